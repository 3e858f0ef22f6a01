package admin_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/wharf-ftp/wharf/admin"
	"github.com/wharf-ftp/wharf/admin/admintest"
	"github.com/wharf-ftp/wharf/internal/engine"
)

// screenshotPath is where WHARF_SCREENSHOT=1 saves the page, for the docs.
const screenshotPath = "../docs/status-page.png"

// browser starts headless Chromium; its context ends with the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := engine.Need(t, "chromium", "Debian package chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// TestPageInBrowser drives the real page in headless Chromium: log in, watch
// a transfer's progress bar move over the event stream, see an event arrive,
// ban and unban an address, reload a rejected file, kick a session.
func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)
	sample := admintest.Sample(time.Now())
	in := startTCP(t, func(o *admin.Options) {
		o.Backend = sample
		o.LiveInterval = 200 * time.Millisecond
	})
	in.backend = sample
	const first = "c9f2a71e" // alice's download
	const bar = `tr[data-id="c9f2a71e"] progress`

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("login", chromedp.Do(ctx,
		watchProblems,
		chromedp.Navigate(in.base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), adminUser),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), adminPass),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#sessions`)),
	))

	// The stream is connected: the live mark shows.
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("live").textContent === "live"`,
		chromedp.WithPollingTimeout(10*time.Second)))
	must("live mark", err)

	before, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('`+bar+`').value`))
	must("progress", err)
	sample.Advance(first, 150_000_000, 9_100_000)
	after, err := chromedp.Run(ctx, chromedp.Poll[float64](
		`(() => { const v = document.querySelector('`+bar+`').value; return v > `+strconv.FormatFloat(before, 'f', -1, 64)+` ? v : 0; })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	must("progress to move", err)
	if after != before+150_000_000 {
		t.Errorf("progress went from %v to %v", before, after)
	}
	nums, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-id="c9f2a71e"] .xfer-nums`)))
	must("numbers", err)
	if !strings.Contains(nums, "562.0 MB of 1.0 GB · 55%") || !strings.Contains(nums, "9.1 MB/s") || !strings.Contains(nums, "left") {
		t.Errorf("transfer figures: %q", nums)
	}

	// An event shows in the activity list.
	sample.Publish("upload", map[string]any{"event": "upload", "time": time.Now().UTC().Format(time.RFC3339), "node": "ftp-1",
		"session": "5d03be94", "user": "backup-bot", "remote": "198.51.100.12", "path": "/nightly/db-2025-06-13.sql.gz",
		"target": "", "bytes": 2_914_000_000, "duration_ms": 118_000, "result": "complete"})
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#events li") !== null`, chromedp.WithPollingTimeout(10*time.Second)))
	must("event in the activity list", err)

	if os.Getenv("WHARF_SCREENSHOT") == "1" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		must("screenshot", err)
		must("save screenshot", os.MkdirAll(filepath.Dir(screenshotPath), 0o755))
		must("save screenshot", os.WriteFile(screenshotPath, png, 0o644))
		t.Logf("saved %s (%d bytes)", screenshotPath, len(png))
	}

	// Ban an address from the form, then lift it.
	must("ban", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`.ban-form input[name="address"]`), "203.0.113.200"),
		chromedp.SendKeys(chromedp.CSS(`.ban-form input[name="note"]`), "from the browser"),
		submit(chromedp.CSS(`.ban-form button`), "banned"),
	))
	bans, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#bans-body`)))
	must("bans", err)
	if !strings.Contains(bans, "203.0.113.200/32") || !strings.Contains(bans, "from the browser") {
		t.Fatalf("ban not listed: %q", bans)
	}
	must("unban", chromedp.Do(ctx,
		submit(chromedp.CSS(`#bans-body tr:has(form input[value="203.0.113.200/32"]) button`), "unbanned"),
	))
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.flash`)))
	must("unban message", err)
	if msg != "The ban was lifted." {
		t.Errorf("after unban: %q", msg)
	}

	// A rejected reload shows its lines.
	sample.RejectReloads([]string{`/etc/wharf/wharf.toml:31: unknown key "max_sesions"`})
	must("reload", chromedp.Do(ctx,
		submit(chromedp.CSS(`#config button`), "reload-rejected"),
		chromedp.WaitVisible(chromedp.CSS(`#config-errors`)),
	))
	errs, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#config-errors`)))
	must("reload errors", err)
	if !strings.Contains(errs, `wharf.toml:31: unknown key "max_sesions"`) {
		t.Errorf("reload errors: %q", errs)
	}

	// Kick the download: the row goes, the session is closed.
	must("kick", chromedp.Do(ctx,
		submit(chromedp.CSS(`tr[data-id="c9f2a71e"] form[action="/kick"] button`), "kicked"),
	))
	gone, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('tr[data-id="c9f2a71e"]') === null`))
	must("row after kick", err)
	ss, _ := sample.Sessions(context.Background())
	for _, s := range ss {
		if s.ID == first {
			t.Fatal("session not kicked")
		}
	}
	if !gone {
		t.Error("the kicked session is still on the page")
	}

	problems, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("problems") || ""`))
	must("problems", err)
	if problems != "" {
		t.Errorf("the page broke its content security policy or threw:\n%s", problems)
	}
}

// watchProblems records, in the tab's sessionStorage, every content security
// policy violation and script error of the pages that follow.
var watchProblems chromedp.Action[chromedp.Void] = func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	const src = `(() => {
		const note = (s) => sessionStorage.setItem("problems", (sessionStorage.getItem("problems") || "") + s + "\n");
		document.addEventListener("securitypolicyviolation", (e) => note("csp: " + e.violatedDirective + " " + e.blockedURI));
		window.addEventListener("error", (e) => note("error: " + e.message));
	})()`
	_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
	return chromedp.Void{}, err
}

// submit clicks a form's button and waits for the page it redirects to,
// named by its message.
func submit(button chromedp.CSS, msg string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(button))(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Poll[chromedp.Void](`location.search === "?m=`+msg+`"`, chromedp.WithPollingTimeout(10*time.Second))(ctx, t)
	}
}

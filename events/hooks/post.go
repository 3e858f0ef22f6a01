package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxRedirects bounds the redirects a URL hook follows, on its own host.
const maxRedirects = 3

// post sends body to u as a JSON POST; a 2xx answer is success.
func (r *Runner) post(ctx context.Context, u string, body []byte) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return outcome{result: ResultFailed, detail: "bad request"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "wharf")
	resp, err := r.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			// url.Error repeats the URL, which may hold credentials.
			err = ue.Err
		}
		return outcome{result: ResultFailed, detail: err.Error()}
	}
	defer resp.Body.Close()
	// Read a little of the answer so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return outcome{result: ResultFailed, detail: fmt.Sprintf("HTTP status %d", resp.StatusCode)}
	}
	return outcome{result: ResultOK}
}

// sameHostRedirect follows a few redirects to the hook's own scheme and host
// and no others: the answer to a redirect elsewhere is the 3xx itself, a
// failure.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if len(via) > maxRedirects || req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

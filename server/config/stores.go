package config

import (
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/wharf-ftp/wharf/fs"
)

// Store types.
const storeS3 = "s3"

// readStores reads every [stores.NAME] table.
func (c *checker) readStores(t *table, cfg *Config) {
	for _, name := range t.keys() {
		st := t.sub(name)
		if st == nil {
			continue
		}
		if msg := checkAccountName(name); msg != "" {
			c.errorf(st.at, "store name %q %s", name, msg)
		}
		s := &Store{Name: name, Region: "us-east-1", PathStyle: true, Line: c.lines.line(st.at)}
		if !st.has("type") {
			c.errorf(st.at, "store %q needs a type (\"s3\")", name)
		}
		st.oneOf("type", &s.Type, storeS3)
		if st.str("endpoint", &s.Endpoint) {
			if u, err := url.Parse(s.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
				(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
				c.keyErrorf(st.loc("endpoint"), "%q is not an http(s) URL without a path, e.g. \"https://s3.example.com\"", s.Endpoint)
			}
		} else if !st.has("endpoint") {
			c.errorf(st.at, "store %q needs an endpoint", name)
		}
		if st.str("region", &s.Region) && s.Region == "" {
			c.keyErrorf(st.loc("region"), "must not be empty")
		}
		if st.str("bucket", &s.Bucket) {
			if msg := checkBucket(s.Bucket); msg != "" {
				c.keyErrorf(st.loc("bucket"), "%q %s", s.Bucket, msg)
			}
		} else if !st.has("bucket") {
			c.errorf(st.at, "store %q needs a bucket", name)
		}
		if st.str("prefix", &s.Prefix) {
			p, msg := keyPrefix(s.Prefix)
			if msg != "" {
				c.keyErrorf(st.loc("prefix"), "%q %s", s.Prefix, msg)
			}
			s.Prefix = p
		}
		st.str("access_key", &s.AccessKey)
		st.boolean("path_style", &s.PathStyle)
		inline := st.str("secret_key", &s.SecretKey) && s.SecretKey != ""
		file := st.str("secret_key_file", &s.SecretKeyFile) && s.SecretKeyFile != ""
		if file {
			s.SecretKeyFile = c.resolve(s.SecretKeyFile)
		}
		switch {
		case inline && file:
			c.errorf(st.at, "store %q sets both secret_key and secret_key_file: keep secret_key_file", name)
		case inline:
			c.warnf(st.loc("secret_key"), "store %q keeps its secret key in the configuration file: move it to a file named by secret_key_file (mode 0600)", name)
		case file:
			c.readSecret(st.loc("secret_key_file"), s)
		}
		if s.AccessKey == "" && (inline || file) {
			c.errorf(st.at, "store %q has a secret key but no access_key", name)
		}
		st.finish()
		cfg.Stores[name] = s
		if c.stores == nil {
			c.stores = map[string]bool{}
		}
		c.stores[name] = true
	}
	t.finish()
}

// readSecret reads a store's secret key file into s.SecretKey; the key itself
// never appears in a message.
func (c *checker) readSecret(l loc, s *Store) {
	if c.opt.SkipPathChecks {
		return
	}
	if !c.fileExists(l, s.SecretKeyFile) {
		return
	}
	c.secretFileMode(l, s.SecretKeyFile)
	data, err := os.ReadFile(s.SecretKeyFile)
	if err != nil {
		c.keyErrorf(l, "file %q: %v", s.SecretKeyFile, unwrapPath(err))
		return
	}
	s.SecretKey = strings.TrimSpace(string(data))
	if s.SecretKey == "" {
		c.keyErrorf(l, "file %q is empty", s.SecretKeyFile)
	}
}

// checkBucket returns why name is not an S3 bucket name, or "".
func checkBucket(name string) string {
	if len(name) < 3 || len(name) > 63 {
		return "must be 3 to 63 characters long"
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '-' || r == '.') && i > 0 && i < len(name)-1
		if !ok {
			return "must be lowercase letters, digits, dots and inner hyphens"
		}
	}
	return ""
}

// keyPrefix cleans a key prefix (a store's prefix, a folder's path in a
// store): no leading "/", a trailing "/" unless empty, no "." or ".."
// elements, no control characters.
func keyPrefix(p string) (string, string) {
	if strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", "must not contain control characters"
	}
	for _, el := range strings.Split(strings.Trim(p, "/"), "/") {
		if el == "." || el == ".." {
			return "", "must not contain \".\" or \"..\" elements"
		}
	}
	clean := strings.TrimPrefix(path.Clean("/"+p), "/")
	if clean == "" {
		return "", ""
	}
	return clean + "/", ""
}

// quota reads a folder's quota = { size, files }.
func (c *checker) quota(t *table, q *Quota) {
	var s string
	if t.strOf("size", `size string such as "10GiB" ("0" = no cap)`, &s) {
		z, err := fs.ParseSize(s)
		if err != nil {
			c.keyErrorf(t.loc("size"), "%v", err)
		} else {
			q.Size = z
		}
	}
	var files int
	if t.integer("files", 0, &files) {
		q.Files = int64(files)
	}
	t.finish()
}

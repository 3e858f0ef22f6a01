package auth

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashPasswordFormat(t *testing.T) {
	h, err := HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)
	m := re.FindStringSubmatch(h)
	if m == nil {
		t.Fatalf("HashPassword = %q; not the expected PHC form", h)
	}
	salt, _ := base64.RawStdEncoding.DecodeString(m[1])
	key, _ := base64.RawStdEncoding.DecodeString(m[2])
	if len(salt) != 16 || len(key) != 32 {
		t.Fatalf("salt %d bytes, key %d bytes; want 16 and 32", len(salt), len(key))
	}
	h2, err := HashPassword("secret")
	if err != nil || h2 == h {
		t.Fatalf("two hashes of one password are equal (salt not random): %q", h2)
	}
}

func TestHashVerifyRoundTrip(t *testing.T) {
	for _, pw := range []string{"secret", "", "pässwörd with spaces", strings.Repeat("x", 200), "\x00\xff"} {
		h, err := HashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckHash(h); err != nil {
			t.Fatalf("CheckHash(HashPassword(%q)): %v", pw, err)
		}
		if !VerifyPassword(h, pw) {
			t.Errorf("VerifyPassword(HashPassword(%q), same) = false", pw)
		}
		if VerifyPassword(h, pw+"x") {
			t.Errorf("VerifyPassword(HashPassword(%q), other) = true", pw)
		}
	}
}

func TestVerifyPasswordBcrypt(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := string(b)
	for _, variant := range []string{h, "$2a$" + h[4:], "$2y$" + h[4:]} {
		if err := CheckHash(variant); err != nil {
			t.Errorf("CheckHash(%.7s...): %v", variant, err)
		}
		if !VerifyPassword(variant, "secret") {
			t.Errorf("VerifyPassword(%.7s..., right) = false", variant)
		}
		if VerifyPassword(variant, "Secret") {
			t.Errorf("VerifyPassword(%.7s..., wrong) = true", variant)
		}
	}
}

func TestCheckHash(t *testing.T) {
	const (
		salt = "c29tZXNhbHRzb21lc2FsdA"                      // 16 bytes
		key  = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U" // 32 bytes
	)
	argon := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	bc := "$2b$10$" + strings.Repeat("a", 53)
	tests := []struct {
		name    string
		in      string
		wantErr error // nil: accepted; errAny: any error
	}{
		{name: "argon2id default", in: argon("m=19456,t=2,p=1")},
		{name: "argon2id contract example", in: argon("m=65536,t=3,p=2")},
		{name: "argon2id max", in: argon("m=4194304,t=100,p=255")},
		{name: "argon2id small", in: argon("m=8,t=1,p=1")},
		{name: "bcrypt 2b", in: bc},
		{name: "bcrypt 2a cost 4", in: "$2a$04$" + strings.Repeat("a", 53)},
		{name: "bcrypt 2y cost 31", in: "$2y$31$" + strings.Repeat("a", 53)},

		{name: "plain text", in: "hunter2", wantErr: ErrNotHash},
		{name: "empty", in: "", wantErr: ErrNotHash},
		{name: "plain text with dollar inside", in: "pa$$word", wantErr: ErrNotHash},
		{name: "argon2i", in: "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key, wantErr: errHashScheme},
		{name: "md5 crypt", in: "$1$abc$def", wantErr: errHashScheme},
		{name: "bcrypt 2x", in: "$2x$10$" + strings.Repeat("a", 53), wantErr: errHashScheme},
		{name: "memory too large", in: argon("m=4194305,t=2,p=1"), wantErr: errArgonParams},
		{name: "memory overflow", in: argon("m=99999999999,t=2,p=1"), wantErr: errArgonParams},
		{name: "time too large", in: argon("m=19456,t=101,p=1"), wantErr: errArgonParams},
		{name: "time zero", in: argon("m=19456,t=0,p=1"), wantErr: errArgonParams},
		{name: "threads too large", in: argon("m=19456,t=2,p=256"), wantErr: errArgonParams},
		{name: "threads zero", in: argon("m=19456,t=2,p=0"), wantErr: errArgonParams},
		{name: "memory below 8p", in: argon("m=15,t=1,p=2"), wantErr: errArgonParams},
		{name: "negative", in: argon("m=-1,t=2,p=1"), wantErr: errArgonParams},
		{name: "leading zero", in: argon("m=019456,t=2,p=1"), wantErr: errArgonParams},
		{name: "params out of order", in: argon("t=2,m=19456,p=1"), wantErr: errArgonMalformed},
		{name: "extra param", in: argon("m=19456,t=2,p=1,k=1"), wantErr: errArgonMalformed},
		{name: "wrong version", in: "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, wantErr: errArgonMalformed},
		{name: "no version", in: "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key, wantErr: errArgonMalformed},
		{name: "padded salt", in: "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key, wantErr: errArgonMalformed},
		{name: "short salt", in: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key, wantErr: errArgonMalformed},
		{name: "short key", in: "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$a2V5", wantErr: errArgonMalformed},
		{name: "missing key", in: "$argon2id$v=19$m=19456,t=2,p=1$" + salt, wantErr: errArgonMalformed},
		{name: "trailing part", in: argon("m=19456,t=2,p=1") + "$x", wantErr: errArgonMalformed},
		{name: "bcrypt short", in: bc[:59], wantErr: errBcryptMalformed},
		{name: "bcrypt long", in: bc + "a", wantErr: errBcryptMalformed},
		{name: "bcrypt cost 3", in: "$2b$03$" + strings.Repeat("a", 53), wantErr: errBcryptMalformed},
		{name: "bcrypt cost 32", in: "$2b$32$" + strings.Repeat("a", 53), wantErr: errBcryptMalformed},
		{name: "bcrypt signed cost", in: "$2b$+5$" + strings.Repeat("a", 53), wantErr: errBcryptMalformed},
		{name: "bcrypt bad alphabet", in: "$2b$10$" + strings.Repeat("a", 52) + "=", wantErr: errBcryptMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckHash(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CheckHash = %v; want %v", err, tt.wantErr)
			}
			if err != nil && tt.in != "" && strings.Contains(err.Error(), tt.in) {
				t.Fatalf("error %q echoes the value", err)
			}
			if err != nil && VerifyPassword(tt.in, "anything") {
				t.Fatal("VerifyPassword accepted a refused hash")
			}
		})
	}
	if got := ErrNotHash.Error(); got != `password is not a hash: use "wharf hash" to make one` {
		t.Errorf("ErrNotHash = %q", got)
	}
}

func FuzzCheckHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U")
	f.Add("$2b$10$" + strings.Repeat("a", 53))
	f.Add("hunter2")
	f.Add("$argon2id$v=19$m=4294967296,t=2,p=1$$")
	f.Add("$2y$04$")
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckHash(s)
		if err != nil {
			if len(s) >= 4 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q echoes the value", err)
			}
			return
		}
		// Accepted: the parameters must be within bounds. Never verify
		// here: a legal hash may cost up to 4 GiB.
		h, perr := parseHash(s)
		if perr != nil {
			t.Fatalf("CheckHash accepted what parseHash refuses: %v", perr)
		}
		switch h := h.(type) {
		case argonHash:
			if h.memory > maxArgonMemoryKiB || h.time < 1 || h.time > maxArgonTime || h.threads < 1 || h.memory < 8*uint32(h.threads) {
				t.Fatalf("accepted out-of-range parameters m=%d t=%d p=%d", h.memory, h.time, h.threads)
			}
			if h.String() != s {
				t.Fatalf("accepted a non-canonical argon2id string: %q (canonical %q)", s, h.String())
			}
		case bcryptHash:
			if len(s) != bcryptLen {
				t.Fatalf("accepted a bcrypt hash of length %d", len(s))
			}
		default:
			t.Fatalf("unexpected hash type %T", h)
		}
	})
}

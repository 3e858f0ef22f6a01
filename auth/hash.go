package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Parameters HashPassword uses: the OWASP minimum for argon2id.
const (
	argonMemoryKiB = 19 * 1024 // m: 19 MiB
	argonTime      = 2         // t: passes
	argonThreads   = 1         // p: lanes
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Bounds on argon2id parameters read from a configuration, so that a hash
// cannot make one check cost unbounded memory or time.
const (
	maxArgonMemoryKiB = 4 * 1024 * 1024 // 4 GiB
	maxArgonTime      = 100
	maxArgonThreads   = 255
	minArgonSaltLen   = 8
	maxArgonSaltLen   = 64
	minArgonKeyLen    = 16
	maxArgonKeyLen    = 128
)

// ErrNotHash is returned (wrapped or as is) by CheckHash for a value that is
// not a password hash at all, such as a plain-text password.
var ErrNotHash = errors.New(`password is not a hash: use "wharf hash" to make one`)

// Errors of CheckHash for values that look like hashes but cannot be used.
// None of them echoes the value.
var (
	errArgonMalformed = errors.New(`malformed argon2id hash: use "wharf hash" to make one`)
	errArgonParams    = fmt.Errorf("argon2id hash parameters out of range (allowed: m up to %d KiB, t 1 to %d, p 1 to %d, m at least 8*p)",
		maxArgonMemoryKiB, maxArgonTime, maxArgonThreads)
	errBcryptMalformed = errors.New("malformed bcrypt hash")
	errHashScheme      = errors.New(`unsupported password hash scheme (argon2id and bcrypt $2a$, $2b$, $2y$ are accepted): use "wharf hash" to make one`)
)

// HashPassword hashes password with argon2id (m=19456 KiB, t=2, p=1, a
// 16-byte random salt, a 32-byte key) and returns it as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, both in unpadded standard
// base64.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading random salt: %w", err)
	}
	h := argonHash{memory: argonMemoryKiB, time: argonTime, threads: argonThreads, salt: salt}
	h.key = argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, argonKeyLen)
	return h.String(), nil
}

// CheckHash returns nil when encoded is a usable password hash: an argon2id
// PHC string (version 19) with sane parameters, or a bcrypt hash ($2a$, $2b$
// or $2y$, cost 4 to 31). Anything else gets an error that never contains
// the value; a value that is not a hash at all (plain text) gets ErrNotHash.
func CheckHash(encoded string) error {
	_, err := parseHash(encoded)
	return err
}

// VerifyPassword reports whether password matches encoded, an argon2id or
// bcrypt hash as accepted by CheckHash. A malformed hash matches nothing.
func VerifyPassword(encoded, password string) bool {
	ok, _ := verifyPassword(encoded, password)
	return ok
}

// verifyPassword is VerifyPassword that also tells a malformed hash apart.
func verifyPassword(encoded, password string) (bool, error) {
	h, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	return h.verify(password), nil
}

// passwordHash is a parsed, usable hash.
type passwordHash interface {
	verify(password string) bool
}

func parseHash(encoded string) (passwordHash, error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return parseArgon(encoded)
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return parseBcrypt(encoded)
	case strings.HasPrefix(encoded, "$"):
		return nil, errHashScheme
	default:
		return nil, ErrNotHash
	}
}

// argonHash is a parsed argon2id PHC string.
type argonHash struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func (h argonHash) String() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.memory, h.time, h.threads, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

func (h argonHash) verify(password string) bool {
	key := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// parseArgon parses "$argon2id$v=19$m=M,t=T,p=P$SALT$KEY".
func parseArgon(encoded string) (argonHash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return argonHash{}, errArgonMalformed
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return argonHash{}, errArgonMalformed
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return argonHash{}, errArgonMalformed
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return argonHash{}, errArgonMalformed
		}
		n, ok := parseDecimal(v)
		if !ok {
			return argonHash{}, errArgonParams
		}
		vals[i] = n
	}
	m, t, p := vals[0], vals[1], vals[2]
	if t < 1 || t > maxArgonTime || p < 1 || p > maxArgonThreads || m > maxArgonMemoryKiB || m < 8*p {
		return argonHash{}, errArgonParams
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < minArgonSaltLen || len(salt) > maxArgonSaltLen {
		return argonHash{}, errArgonMalformed
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < minArgonKeyLen || len(key) > maxArgonKeyLen {
		return argonHash{}, errArgonMalformed
	}
	return argonHash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

// parseDecimal parses a plain decimal number (digits only, no sign, no
// leading zero) of at most 10 digits.
func parseDecimal(s string) (uint64, bool) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// bcryptHash is a checked bcrypt hash.
type bcryptHash string

func (h bcryptHash) verify(password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(h), []byte(password)) == nil
}

// bcryptLen is the length of a bcrypt hash: "$2b$", cost, "$", 22 characters
// of salt and 31 of hash.
const bcryptLen = 60

// parseBcrypt checks "$2b$CC$<53 characters of bcrypt base64>".
func parseBcrypt(encoded string) (bcryptHash, error) {
	if len(encoded) != bcryptLen || !isDigit(encoded[4]) || !isDigit(encoded[5]) || encoded[6] != '$' {
		return "", errBcryptMalformed
	}
	for i := 7; i < len(encoded); i++ {
		if !isBcryptBase64(encoded[i]) {
			return "", errBcryptMalformed
		}
	}
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil || cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return "", errBcryptMalformed
	}
	return bcryptHash(encoded), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isBcryptBase64(c byte) bool {
	return c == '.' || c == '/' || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}

package events

import "testing"

func TestParseKinds(t *testing.T) {
	got, err := ParseKinds([]string{"upload", "login_failed", "ban"})
	if err != nil || len(got) != 3 || got[1] != LoginFailed {
		t.Fatalf("ParseKinds = %v, %v", got, err)
	}
	for _, bad := range [][]string{{"uploads"}, {"upload", "upload"}, {""}, {"UPLOAD"}} {
		if _, err := ParseKinds(bad); err == nil {
			t.Errorf("ParseKinds(%q): want an error", bad)
		}
	}
}

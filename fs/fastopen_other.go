//go:build !linux

package fs

import "os"

// fastRoot is the fast open path of Linux (openat2); elsewhere os.Root does every open.
type fastRoot struct{}

func openFastRoot(string) *fastRoot { return nil }

func (r *fastRoot) close() error { return nil }

func (r *fastRoot) openRead(string) (*os.File, bool, error) { return nil, false, nil }

func (r *fastRoot) createTemp(string, int) (*localUpload, bool, error) { return nil, false, nil }

package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// runCeilings measures what the machine allows, with Go on both ends: a TCP
// stream over loopback from memory and from the test file (sendfile), one
// core's AES-128-GCM, and a TLS 1.3 stream over loopback.
func runCeilings(_ context.Context, r *runner, _ *server) (map[string]float64, error) {
	out := map[string]float64{}
	size := r.o.size
	buf := make([]byte, copyBufSize)
	v, err := loopback(size, nil, func(c net.Conn) error { return writeN(c, size, buf) })
	if err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	out[mCeilTCP] = v
	v, err = loopback(size, nil, func(c net.Conn) error {
		f, err := os.Open(filepath.Join(r.env.data, bigFile))
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(c, f) // *net.TCPConn.ReadFrom(*os.File): sendfile
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tcp sendfile: %w", err)
	}
	out[mCeilSendfile] = v
	out[mCeilAES] = aesGCM(size)
	cert, err := tls.LoadX509KeyPair(r.env.cert, r.env.key)
	if err != nil {
		return nil, err
	}
	sconf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	v, err = loopback(size, r.tlsConf, func(c net.Conn) error {
		tc := tls.Server(c, sconf)
		if err := writeN(tc, size, buf); err != nil {
			return err
		}
		return tc.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	out[mCeilTLS] = v
	return out, nil
}

// loopback serves one connection with serve and reads size bytes from it
// (through TLS when conf is set), returning MB/s.
func loopback(size int64, conf *tls.Config, serve func(net.Conn) error) (float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		errc <- serve(c)
	}()
	start := time.Now()
	var c net.Conn
	c, err = net.DialTimeout("tcp", l.Addr().String(), 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
	if conf != nil {
		c = tls.Client(c, conf)
	}
	n, err := discard(c, make([]byte, copyBufSize))
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if serr := <-errc; serr != nil {
		return 0, serr
	}
	if n != size {
		return 0, fmt.Errorf("read %d bytes, want %d", n, size)
	}
	return mbps(n, d), nil
}

func writeN(w io.Writer, size int64, buf []byte) error {
	for n := int64(0); n < size; {
		k, err := w.Write(buf[:min(int64(len(buf)), size-n)])
		n += int64(k)
		if err != nil {
			return err
		}
	}
	return nil
}

// aesGCM seals size bytes in 16 KiB records (TLS's size) on one core: MB/s.
func aesGCM(size int64) float64 {
	block, _ := aes.NewCipher(make([]byte, 16))
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	rec := make([]byte, 16<<10)
	dst := make([]byte, 0, len(rec)+aead.Overhead())
	start := time.Now()
	var n int64
	for n < size {
		dst = aead.Seal(dst[:0], nonce, rec, nil)
		n += int64(len(rec))
		nonce[0]++
	}
	return mbps(n, time.Since(start))
}

package main

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestZZPhases(t *testing.T) {
	o := smallOptions()
	r, srv := inProcess(t, o)
	c, err := r.session(srv, false)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var tE, tD, t150, tData, t226 time.Duration
	n := 300
	for i := 0; i < n; i++ {
		t0 := time.Now()
		code, msg, err := c.cmd(0, "EPSV")
		if err != nil || code != 229 {
			t.Fatal(err, msg)
		}
		t1 := time.Now()
		i1, j := strings.Index(msg, "(|||"), strings.LastIndex(msg, "|)")
		conn, err := net.Dial("tcp", "127.0.0.1:"+msg[i1+4:j])
		if err != nil {
			t.Fatal(err)
		}
		t2 := time.Now()
		c.send("RETR " + bigFile[:0] + "par.bin")
		c.expect("RETR", 1)
		t3 := time.Now()
		discard(conn, buf)
		_ = conn
		conn.Close()
		t4 := time.Now()
		c.expect("RETR", 2)
		t5 := time.Now()
		tE += t1.Sub(t0)
		tD += t2.Sub(t1)
		t150 += t3.Sub(t2)
		tData += t4.Sub(t3)
		t226 += t5.Sub(t4)
	}
	d := time.Duration(n)
	t.Logf("EPSV %v dial %v RETR->150 %v data %v ->226 %v", tE/d, tD/d, t150/d, tData/d, t226/d)
}

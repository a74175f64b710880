package netcut

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// A line echoed through the link; none while it is cut; again after.
func TestCutAndRestore(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	l, err := New("tcp://" + echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.URL()[len("tcp://"):]
	roundTrip := func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		_, err = bufio.NewReader(c).ReadString('\n')
		return err
	}
	if err := roundTrip(); err != nil {
		t.Fatalf("through the link: %v", err)
	}
	// A connection open when the link is cut is dropped.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hold\n"))
	bufio.NewReader(c).ReadString('\n')
	l.Cut()
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("a connection survived the cut")
	}
	if err := roundTrip(); err == nil {
		t.Error("a new connection got through the cut link")
	}
	l.Restore()
	if err := roundTrip(); err != nil {
		t.Errorf("after restore: %v", err)
	}
}

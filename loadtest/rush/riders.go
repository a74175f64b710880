package rush

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Rider is an enrolled citizen as the simulation knows them: the face
// reference the simulated camera will see and the pseudonymous subject the
// provider returned. The CCCD number and name stay with the provider.
type Rider struct {
	Subject string
	FaceRef string
	// Age is about how old the citizen was enrolled as (within a year):
	// ages are drawn away from the concession boundaries (6, 60), so the
	// rider's category is certain whichever day the simulation runs.
	Age int
	// Postpaid riders linked a bank account and travel post-paid: no
	// top-up, their fares are collected after travel.
	Postpaid bool
}

var (
	familyNames = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"}
	middleNames = []string{"Văn", "Thị", "Hữu", "Minh", "Thu", "Ngọc", "Đức", "Thanh", "Quang", "Hoài"}
	givenNames  = []string{"An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Hương", "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Trung", "Tuấn", "Vy", "Yến"}
)

// citizen makes a plausible citizen: a CCCD number of the real shape
// (province 001 Hanoi, century-and-sex digit, year of birth, six digits) and
// a Vietnamese name. Of every 20, one is a child of 2-4 and two are 62-80
// years old (they ride free); the rest are adults of 21-58.
func citizen(rng *rand.Rand, i int) (map[string]any, int) {
	age := 21 + rng.IntN(38)
	switch i % 20 {
	case 7:
		age = 2 + rng.IntN(3)
	case 3, 13:
		age = 62 + rng.IntN(19)
	}
	year := time.Now().Year() - age - 1 + rng.IntN(2)
	sex := rng.IntN(2)
	century := sex // 0/1: born in the 1900s
	if year >= 2000 {
		century = 2 + sex
	}
	cccd := fmt.Sprintf("001%d%02d%06d", century, year%100, (rng.IntN(1000)*1000+i)%1_000_000)
	dob := time.Date(year, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
	name := familyNames[rng.IntN(len(familyNames))] + " " + middleNames[rng.IntN(len(middleNames))] + " " + givenNames[rng.IntN(len(givenNames))]
	return map[string]any{"cccd": cccd, "full_name": name, "date_of_birth": dob.Format("2006-01-02")}, age
}

// Enroll registers n citizens with the identity provider at baseURL.
func Enroll(ctx context.Context, c *http.Client, baseURL string, n int, rng *rand.Rand) ([]Rider, error) {
	bodies := make([][]byte, n)
	ages := make([]int, n)
	for i := range bodies {
		var c map[string]any
		c, ages[i] = citizen(rng, i)
		bodies[i], _ = json.Marshal(c)
	}
	riders := make([]Rider, n)
	err := parallel(n, 8, func(i int) error {
		var out struct {
			Subject string `json:"subject"`
			FaceRef string `json:"face_ref"`
		}
		if err := postJSON(ctx, c, strings.TrimRight(baseURL, "/")+"/v1/citizens", "", bodies[i], &out); err != nil {
			return fmt.Errorf("rush: enroll: %w", err)
		}
		riders[i] = Rider{Subject: out.Subject, FaceRef: out.FaceRef, Age: ages[i]}
		return nil
	})
	return riders, err
}

func fund(ctx context.Context, api *API, riders []Rider, topUp int64, riderToken func(string) (string, error)) error {
	return parallel(len(riders), 8, func(i int) error {
		r := riders[i]
		if _, err := api.Link(ctx, r.Subject); err != nil {
			return err
		}
		if r.Postpaid {
			// The rider, in the app, links a (simulated) bank account and
			// accepts the post-paid terms.
			tok, err := riderToken(r.Subject)
			if err != nil {
				return err
			}
			rider := *api
			rider.Token = tok
			return rider.LinkBank(ctx, r.Subject, fmt.Sprintf("970400%010d", 1_000_000+i*10+1), "rush-bank-"+r.Subject)
		}
		_, err := api.TopUp(ctx, r.Subject, topUp, "rush-opening-"+r.Subject)
		return err
	})
}

// parallel runs f(0..n-1) on up to width goroutines and returns the first error.
func parallel(n, width int, f func(int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for w := 0; w < width; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

func postJSON(ctx context.Context, c *http.Client, url, token string, body []byte, out any) error {
	return doJSON(ctx, c, http.MethodPost, url, token, body, out)
}

func doJSON(ctx context.Context, c *http.Client, method, url, token string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
		// Staff reads of a rider's data state their purpose (audited;
		// SECURITY.md); a rider's own token needs none and it is ignored.
		req.Header.Set("X-Access-Reason", "rush-hour simulation")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

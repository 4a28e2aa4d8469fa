package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ceilingEnv, when set to 1, makes the benchmark binary serve the ceiling
// handler instead of benchmarking (the --ceiling-mode process child).
const ceilingEnv = "BANKGATE_BENCH_CEILING_SERVER"

type ceilingRequest struct {
	AppSecret  string `json:"appSecret"`
	UserSecret string `json:"userSecret"`
	AccountID  string `json:"accountID"`
}

type ceilingBalance struct {
	Amount   float64 `json:"amount"`
	Currency struct {
		Code string `json:"code"`
		Name string `json:"name"`
	} `json:"currency"`
	AccountNumber string `json:"accountNumber"`
}

type ceilingResponse struct {
	Success     bool           `json:"success"`
	Status      string         `json:"status"`
	OperationID string         `json:"operationID"`
	Balance     ceilingBalance `json:"balance"`
}

// ceilingHandler is the ceiling: the least a JSON-over-HTTP handler does.
// It reads and decodes the body and encodes a small Dapi-style envelope
// the size of a balance answer, with no authentication and no store.
func ceilingHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req ceilingRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"success":false,"status":"failed","type":"PARAMETER_ERROR"}`)
		return
	}
	resp := ceilingResponse{Success: true, Status: "done", OperationID: "x"}
	resp.Balance.Amount = 30939.26
	resp.Balance.Currency.Code = "AED"
	resp.Balance.Currency.Name = "UNITED ARAB EMIRATES DIRHAM"
	resp.Balance.AccountNumber = "1696620078702"
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(&resp)
}

func newCeilingServer() *http.Server {
	return &http.Server{
		Handler:           http.HandlerFunc(ceilingHandler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// ceiling is a running ceiling server, in this process or in a child.
type ceiling struct {
	addr string
	pid  int // the child's pid, or 0 in process
	stop func()
}

// startCeilingInProcess serves the ceiling handler from a goroutine of
// this process.
func startCeilingInProcess() (*ceiling, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	srv := newCeilingServer()
	go srv.Serve(ln)
	return &ceiling{addr: ln.Addr().String(), stop: func() { srv.Close() }}, nil
}

// startCeilingProcess serves the ceiling handler from a child process (this
// binary again, with ceilingEnv set), so that it competes for the CPU with
// the load generator the way bankgate does.
func startCeilingProcess() (*ceiling, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ceilingEnv+"=1")
	cmd.SysProcAttr = childAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ceiling: start %s: %w", exe, err)
	}
	stop := func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ceiling listening on http://"); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			stop()
			return nil, fmt.Errorf("ceiling: the child process exited before it was ready")
		}
		return &ceiling{addr: a, pid: cmd.Process.Pid, stop: stop}, nil
	case <-time.After(10 * time.Second):
		stop()
		return nil, fmt.Errorf("ceiling: the child process was not ready within 10s")
	}
}

// serveCeilingChild is the child's whole life: serve until stdin closes.
func serveCeilingChild() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := newCeilingServer()
	go srv.Serve(ln)
	fmt.Printf("ceiling listening on http://%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}

using System.Security.Cryptography;
using System.Text;

namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>
/// A small Go program (stdlib only: net/http with a unix dialer, and a net/http server on a unix listener),
/// built once per test run into /tmp/unx-go/&lt;hash of the source&gt;/ (with its build cache there too), so
/// later runs and other test classes reuse the binary.
/// </summary>
internal static class GoProgram
{
    private const string Source = """
        package main

        import (
        	"bufio"
        	"context"
        	"crypto/sha256"
        	"encoding/hex"
        	"encoding/json"
        	"fmt"
        	"io"
        	"net"
        	"net/http"
        	"os"
        	"strings"
        	"sync"
        	"time"
        )

        type connKey struct{}

        func main() {
        	switch os.Args[1] {
        	case "client":
        		client(os.Args[2], os.Args[3])
        	case "server":
        		server(os.Args[2])
        	}
        }

        func pattern(n int) []byte {
        	b := make([]byte, n)
        	for i := range b {
        		b[i] = byte(i*31 + (i >> 11))
        	}
        	return b
        }

        func fail(format string, args ...interface{}) {
        	fmt.Fprintf(os.Stderr, format+"\n", args...)
        	os.Exit(1)
        }

        // client: many requests over a pooled Transport that dials the unix socket (a path or @name), an upload, SSE.
        func client(address, sseKey string) {
        	transport := &http.Transport{
        		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
        			var d net.Dialer
        			return d.DialContext(ctx, "unix", address)
        		},
        		MaxIdleConnsPerHost: 16,
        	}
        	c := &http.Client{Transport: transport, Timeout: 20 * time.Second}
        	get := func(path string) string {
        		r, err := c.Get("http://localhost" + path)
        		if err != nil {
        			fail("GET %s: %v", path, err)
        		}
        		defer r.Body.Close()
        		b, _ := io.ReadAll(r.Body)
        		return string(b)
        	}
        	out := map[string]interface{}{}
        	conns := map[string]bool{}
        	for i := 0; i < 100; i++ {
        		conns[get("/conn")] = true
        	}
        	out["sequential_connections"] = len(conns)
        	var wg sync.WaitGroup
        	var mu sync.Mutex
        	ok := 0
        	for w := 0; w < 8; w++ {
        		wg.Add(1)
        		go func() {
        			defer wg.Done()
        			for i := 0; i < 25; i++ {
        				if get("/plaintext") == "Hello, World!" {
        					mu.Lock()
        					ok++
        					mu.Unlock()
        				}
        			}
        		}()
        	}
        	wg.Wait()
        	out["concurrent_ok"] = ok
        	body := pattern(4 << 20)
        	r, err := c.Post("http://localhost/sha256", "application/octet-stream", strings.NewReader(string(body)))
        	if err != nil {
        		fail("POST: %v", err)
        	}
        	got, _ := io.ReadAll(r.Body)
        	r.Body.Close()
        	sum := sha256.Sum256(body)
        	out["upload"] = string(got) == fmt.Sprintf("%d %s", len(body), hex.EncodeToString(sum[:]))
        	// SSE: the second event is released only after the first was read here.
        	r, err = c.Get("http://localhost/sse?key=" + sseKey)
        	if err != nil {
        		fail("GET /sse: %v", err)
        	}
        	reader := bufio.NewReader(r.Body)
        	first, _ := reader.ReadString('\n')
        	get("/release?key=" + sseKey)
        	reader.ReadString('\n')
        	second, _ := reader.ReadString('\n')
        	r.Body.Close()
        	out["sse"] = strings.TrimSpace(first) + "|" + strings.TrimSpace(second)
        	json.NewEncoder(os.Stdout).Encode(out)
        }

        // server: net/http on a unix listener (a path or @name), the routes the tests use.
        func server(address string) {
        	listener, err := net.Listen("unix", address)
        	if err != nil {
        		fail("listen: %v", err)
        	}
        	var releases sync.Map
        	release := func(key string) chan struct{} {
        		ch, _ := releases.LoadOrStore(key, make(chan struct{}))
        		return ch.(chan struct{})
        	}
        	mux := http.NewServeMux()
        	mux.HandleFunc("/plaintext", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "Hello, World!") })
        	mux.HandleFunc("/conn", func(w http.ResponseWriter, r *http.Request) {
        		fmt.Fprintf(w, "%p", r.Context().Value(connKey{}))
        	})
        	mux.HandleFunc("/sha256", func(w http.ResponseWriter, r *http.Request) {
        		h := sha256.New()
        		n, _ := io.Copy(h, r.Body)
        		fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
        	})
        	mux.HandleFunc("/release", func(w http.ResponseWriter, r *http.Request) {
        		ch := release(r.URL.Query().Get("key"))
        		select {
        		case <-ch:
        		default:
        			close(ch)
        		}
        		io.WriteString(w, "released")
        	})
        	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
        		w.Header().Set("Content-Type", "text/event-stream")
        		io.WriteString(w, "data: one\n\n")
        		w.(http.Flusher).Flush()
        		select {
        		case <-release(r.URL.Query().Get("key")):
        		case <-r.Context().Done():
        			return
        		}
        		io.WriteString(w, "data: two\n\n")
        	})
        	s := &http.Server{Handler: mux, ConnContext: func(ctx context.Context, c net.Conn) context.Context {
        		return context.WithValue(ctx, connKey{}, c)
        	}}
        	fmt.Println("ready", address)
        	s.Serve(listener)
        }
        """;

    private static readonly Lazy<Task<string>> s_binary = new(BuildAsync);

    /// <summary>The built program's path (built on first use).</summary>
    public static Task<string> BinaryAsync() => s_binary.Value;

    private static async Task<string> BuildAsync()
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Source)))[..16];
        var root = Directory.CreateDirectory($"/tmp/unx-go/{hash}").FullName;
        var binary = Path.Combine(root, "interop");
        if (File.Exists(binary))
        {
            return binary;
        }
        var source = Path.Combine(root, "main.go");
        await File.WriteAllTextAsync(source, Source);
        var temporary = binary + "." + TestPaths.Hex8();
        // Stdlib only, no module lookups. CGO stays as Debian built the stdlib: its prebuilt archives are used (2 s, not 25).
        var result = await ProcessRunner.RunAsync("env",
        [
            $"GOCACHE={root}/cache", $"GOPATH={root}/gopath", "GO111MODULE=off", "GOFLAGS=",
            Tools.Require("go"), "build", "-o", temporary, source,
        ], TimeSpan.FromMinutes(3));
        Assert.True(result.ExitCode == 0, $"go build failed:\n{result.StandardError}");
        File.Move(temporary, binary, overwrite: true);
        return binary;
    }
}

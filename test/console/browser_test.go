package console

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserPath finds Debian's chromium (or another Chrome). Without one the
// browser tests skip, unless CI is set: there a missing browser is a
// failure (.ci/run installs chromium).
func browserPath(t *testing.T) string {
	if p := findBrowser(); p != "" {
		return p
	}
	if os.Getenv("CI") == "" {
		t.Skip("no chromium on PATH (apt-get install chromium); set CI=true to make this a failure")
	}
	t.Fatal("CI is set and no chromium is on PATH: the console's browser test cannot run")
	return ""
}

// findBrowser returns the path of the first Chrome found, or "".
func findBrowser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactDir is where the screenshots go: $CONCORD_ARTIFACTS/console, or
// concord-artifacts/console in the system temp dir. It is never cleaned up.
func artifactDir(t *testing.T) string {
	root := os.Getenv("CONCORD_ARTIFACTS")
	if root == "" {
		root = filepath.Join(os.TempDir(), "concord-artifacts")
	}
	dir := filepath.Join(root, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium tab with every console message and
// uncaught exception of its pages collected.
type browser struct {
	t         *testing.T
	ctx       context.Context
	artifacts string
	start     time.Time
	mu        sync.Mutex
	messages  []chromedp.ConsoleMessage
}

// chrome is the one browser process of the test binary (starting Chromium
// is the slowest step on a loaded machine); each test has its own tab.
var chrome struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

// stopChrome ends the browser; TestMain calls it after the tests.
func stopChrome() {
	if chrome.cancel != nil {
		chrome.cancel()
	}
}

func newBrowser(t *testing.T) *browser {
	path := browserPath(t)
	chrome.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
			chromedp.WindowSize(1280, 860))
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		chrome.ctx, chrome.cancel = ctx, func() { cancel(); cancelAlloc() }
		chrome.err = chromedp.Do(ctx) // starts the browser
	})
	if chrome.err != nil {
		t.Fatalf("starting %s: %v", path, chrome.err)
	}
	ctx, cancel := chromedp.NewContext(chrome.ctx) // a new tab
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx, artifacts: artifactDir(t), start: time.Now()}
	// Open the tab and subscribe before the first page loads.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.messages = append(b.messages, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs actions with a deadline.
func (b *browser) do(timeout time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v\npage text: %s", what, err, b.text())
	}
}

// waitJS waits until the expression is true in the page.
func (b *browser) waitJS(timeout time.Duration, what, expr string) {
	b.t.Helper()
	b.do(timeout+5*time.Second, "waiting for "+what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond))(ctx, t)
		return err
	}))
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func (b *browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	return v
}

// screenshot saves the viewport as name.png in the artifact dir.
func (b *browser) screenshot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.artifacts, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("writing %s: %v", p, err)
		return
	}
	b.t.Logf("%5.1fs screenshot: %s", time.Since(b.start).Seconds(), p)
}

// problems are the console errors, warnings and exceptions seen so far.
func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.messages {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
			out = append(out, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
		}
	}
	return out
}

// TestConsoleInBrowser drives the console in headless Chromium against
// three real members: the cluster page shows three members and one leader
// and follows the leader's death to a new leader, the key browser shows a
// key the test wrote, its history and a live watch, and writes a key; the
// metrics, SQL, resource and snapshot pages work; and no page logs an
// error or throws.
func TestConsoleInBrowser(t *testing.T) {
	browserPath(t)           // skip (or fail under CI) before starting anything
	ms := startCluster(t, 3) // the members start while the browser does
	b := newBrowser(t)
	t.Logf("%5.1fs browser started", time.Since(b.start).Seconds())
	leader := waitLeader(t, ms)
	t.Logf("%5.1fs three members ready, %s leads", time.Since(b.start).Seconds(), leader.id) // b.start: when the browser was launched
	var page *member                                                                         // a follower serves the console, so it outlives the leader
	for _, m := range ms {
		if m != leader {
			page = m
			break
		}
	}
	for _, v := range []string{"hello, v1", "hello from the test"} {
		if err := page.call("PUT", "/v1/kv/console-test/greeting", v, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := page.call("PUT", "/v1/resource/demo/v2/Artist/korn", `{"data": {"name": "Korn", "genre": "GENRE_METAL"}}`, nil); err != nil {
		t.Fatal(err)
	}
	if err := page.call("POST", "/db/execute", `["CREATE TABLE people (name TEXT, age INTEGER)", "INSERT INTO people VALUES ('fiona', 20)"]`, nil); err != nil {
		t.Fatal(err)
	}
	base := "http://" + page.clientAddr + "/ui/"

	// The cluster page: three members, one of them the leader.
	b.do(20*time.Second, "opening the console", chromedp.Navigate(base))
	b.waitJS(20*time.Second, "three members and one leader", fmt.Sprintf(
		`document.querySelectorAll('#members tr[data-member]').length === 3 &&
		 document.querySelectorAll('#members tr[data-state="Leader"]').length === 1 &&
		 document.querySelector('#members tr[data-state="Leader"]').dataset.member === %q &&
		 document.getElementById('leader').textContent === %q &&
		 document.querySelectorAll('#members tr[data-health="healthy"]').length === 3`, leader.id, leader.id))
	b.screenshot("cluster")

	// Kill the leader: the page shows it down and the new leader.
	t.Logf("killing the leader %s", leader.id)
	leader.kill()
	b.waitJS(45*time.Second, "a new leader", fmt.Sprintf(
		`(() => { const l = document.getElementById('leader').textContent;
		   const rows = document.querySelectorAll('#members tr[data-member]');
		   const leaders = document.querySelectorAll('#members tr[data-state="Leader"]');
		   const old = document.querySelector('#members tr[data-member=%q]');
		   return rows.length === 3 && l !== %q && l !== 'none' && leaders.length === 1 &&
		     leaders[0].dataset.member === l && old && old.dataset.health === 'down'; })()`, leader.id, leader.id))
	newLeader := b.eval(`document.getElementById('leader').textContent`)
	t.Logf("the console shows the new leader %s", newLeader)
	b.screenshot("cluster-after-leader-change")

	// The key browser: the prefix's listing, the key, its value and history.
	b.do(10*time.Second, "opening the key browser", chromedp.Navigate(base+"#/keys?prefix=console-test/"))
	b.waitJS(15*time.Second, "the test's key in the listing", `!!document.querySelector('#keys a[data-key="console-test/greeting"]')`)
	b.do(10*time.Second, "choosing the key", chromedp.Click(chromedp.CSS(`#keys a[data-key="console-test/greeting"]`)))
	b.waitJS(15*time.Second, "the key's value", `(document.getElementById('key-value') || {}).textContent === 'hello from the test'`)
	b.do(10*time.Second, "loading the history", chromedp.Click(chromedp.ID("history-load")))
	b.waitJS(15*time.Second, "two versions in the history",
		`document.querySelectorAll('#history tr[data-version]').length === 2 &&
		 document.querySelector('#history tr[data-version="1"] pre').textContent === 'hello, v1'`)

	// A live watch of the prefix sees a write made now.
	b.do(10*time.Second, "starting the watch", chromedp.Click(chromedp.ID("watch-toggle")))
	b.waitJS(10*time.Second, "the watch to start", `/Watching/.test(document.getElementById('watch').textContent)`)
	waitFor(t, 15*time.Second, "the watch to show a new write", func() error {
		stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := page.call("PUT", "/v1/kv/console-test/live", "written "+stamp, nil); err != nil {
			return err
		}
		// The stream may have been set up after the write: write again
		// until the page shows one.
		time.Sleep(300 * time.Millisecond)
		if !strings.Contains(b.eval(`document.getElementById('events').textContent`), "written "+stamp) {
			return fmt.Errorf("the watch shows no write %s", stamp)
		}
		return nil
	})
	b.screenshot("keys")

	// A write from the console reaches the cluster.
	b.do(10*time.Second, "putting a key from the console",
		chromedp.SetValue(chromedp.CSS(`#key-put input[name=k]`), "console-test/from-browser"),
		chromedp.SetValue(chromedp.CSS(`#key-put textarea[name=v]`), "typed in the console"),
		chromedp.Click(chromedp.CSS(`#key-put button[type=submit]`)))
	b.waitJS(15*time.Second, "the written key shown", `(document.getElementById('key-name') || {}).textContent === 'console-test/from-browser' &&
		(document.getElementById('key-value') || {}).textContent === 'typed in the console'`)
	var got struct {
		Kvs []struct{ Value string } `json:"kvs"`
	}
	if err := page.call("GET", "/v1/kv/console-test/from-browser?range_end=console-test/from-browser%00", "", &got); err != nil ||
		len(got.Kvs) != 1 || got.Kvs[0].Value != "typed in the console" {
		t.Errorf("the key written from the console reads %+v (%v)", got, err)
	}

	// Metrics: the cards appear after two polls.
	b.do(10*time.Second, "opening the metrics", chromedp.Navigate(base+"#/metrics"))
	b.waitJS(20*time.Second, "the metric cards", `document.querySelectorAll('#metric-cards .card').length >= 5 &&
		document.querySelectorAll('#latency-series option').length > 0`)
	b.screenshot("metrics")

	// SQL: the table list and a query at a chosen level.
	b.do(10*time.Second, "opening the SQL console", chromedp.Navigate(base+"#/sql"))
	b.waitJS(15*time.Second, "the table list", `/people/.test(document.getElementById('sql-tables').textContent)`)
	b.do(10*time.Second, "running a query",
		chromedp.SetValue(chromedp.ID("sql-text"), "SELECT name, age FROM people"),
		chromedp.SetValue(chromedp.ID("sql-level"), "linearizable"),
		chromedp.Click(chromedp.ID("sql-query")))
	b.waitJS(15*time.Second, "the query's rows", `(() => { const c = [...document.querySelectorAll('#sql-results td')].map((x) => x.textContent);
		return c.join(',') === 'fiona,20'; })()`)
	b.screenshot("sql")

	// Resources: the type, its resource, the resource's JSON.
	b.do(10*time.Second, "opening the resources", chromedp.Navigate(base+"#/resources"))
	b.waitJS(15*time.Second, "the type list", `!!document.querySelector('#resource-types a[href="#/resources?type=demo.Artist"]')`)
	b.do(10*time.Second, "choosing the type", chromedp.Click(chromedp.CSS(`#resource-types a[href="#/resources?type=demo.Artist"]`)))
	b.waitJS(15*time.Second, "the resource listed", `!!document.querySelector('#resource-list tr[data-name="korn"]')`)
	b.do(10*time.Second, "opening the resource", chromedp.Click(chromedp.CSS(`#resource-list tr[data-name="korn"]`)))
	b.waitJS(15*time.Second, "the resource's JSON", `/"Korn"/.test((document.getElementById('resource-json') || {}).textContent || '')`)
	b.screenshot("resources")

	// Snapshot: the archive downloads (auth is off: everyone is root).
	b.do(10*time.Second, "opening the snapshot page", chromedp.Navigate(base+"#/snapshot"),
		chromedp.Click(chromedp.ID("snapshot-download")))
	b.waitJS(30*time.Second, "the snapshot downloaded", `/^Saved concord-n\d-.*\.snap \(\d/.test(document.getElementById('snapshot-status').textContent)`)

	// On a phone: the cluster page in a narrow viewport.
	b.do(10*time.Second, "a phone's viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(base+"#/cluster"))
	b.waitJS(20*time.Second, "the members on a phone", `document.querySelectorAll('#members tr[data-member]').length === 3`)
	b.screenshot("cluster-phone")

	if p := b.problems(); len(p) > 0 {
		t.Errorf("the console logged %d errors, warnings or exceptions:\n%s", len(p), strings.Join(p, "\n"))
	}
}

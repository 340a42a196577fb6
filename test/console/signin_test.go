package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// enableAuth makes root and a user "viewer" who may only read
// console-test/, writes a key there, and turns auth on.
func enableAuth(t *testing.T, m *member) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.clientAddr}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	steps := []func() error{
		func() error { _, err := cli.Put(ctx, "console-test/greeting", "hello, viewer"); return err },
		func() error { _, err := cli.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "root"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.UserAdd(ctx, "viewer", "viewerpw"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "read-console-test"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "read-console-test", "console-test/", clientv3.GetPrefixRangeEnd("console-test/"),
				clientv3.PermissionType(clientv3.PermRead))
			return err
		},
		func() error { _, err := cli.UserGrantRole(ctx, "viewer", "read-console-test"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
}

// TestConsoleSignIn: with auth on, the console asks for credentials,
// refuses a wrong password, signs a read-only user in with a token, shows
// the cluster and a key that user may read, offers no write controls and
// no snapshot download, and signs out.
func TestConsoleSignIn(t *testing.T) {
	browserPath(t)           // skip (or fail under CI) before starting anything
	ms := startCluster(t, 1) // the member starts while the browser does
	b := newBrowser(t)
	waitLeader(t, ms)
	enableAuth(t, ms[0])
	base := "http://" + ms[0].clientAddr + "/ui/"

	b.do(20*time.Second, "opening the console", chromedp.Navigate(base))
	b.waitJS(15*time.Second, "the sign-in form", `document.getElementById('login').open`)
	b.do(10*time.Second, "a wrong password",
		chromedp.SetValue(chromedp.CSS(`#login-form input[name=name]`), "viewer"),
		chromedp.SetValue(chromedp.CSS(`#login-form input[name=password]`), "wrong"),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)))
	b.waitJS(15*time.Second, "the refusal", `!document.getElementById('login-error').hidden &&
		document.getElementById('login').open`)
	b.screenshot("signin")
	b.do(10*time.Second, "the right password",
		chromedp.SetValue(chromedp.CSS(`#login-form input[name=password]`), "viewerpw"),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)))
	b.waitJS(20*time.Second, "the cluster page as viewer", `!document.getElementById('login').open &&
		/signed in as viewer/.test(document.getElementById('user').textContent) &&
		document.querySelectorAll('#members tr[data-member]').length === 1 &&
		!!sessionStorage.getItem('concord.token')`)

	// A key viewer may read; no put form, no delete button.
	b.do(10*time.Second, "opening the key", chromedp.Navigate(base+"#/keys?prefix=console-test/&key=console-test/greeting"))
	b.waitJS(15*time.Second, "the key's value", `(document.getElementById('key-value') || {}).textContent === 'hello, viewer' &&
		!document.getElementById('key-put') && !document.getElementById('key-delete')`)
	b.screenshot("keys-read-only")
	b.do(10*time.Second, "opening the snapshot page", chromedp.Navigate(base+"#/snapshot"))
	b.waitJS(10*time.Second, "no snapshot download for viewer", `!document.getElementById('snapshot-download') &&
		/Only root/.test(document.getElementById('view').textContent)`)

	b.do(10*time.Second, "signing out", chromedp.Click(chromedp.ID("logout")))
	b.waitJS(10*time.Second, "the sign-in form again", `document.getElementById('login').open && !sessionStorage.getItem('concord.token')`)

	// The only errors allowed are the browser's lines for the answers
	// that asked for credentials (401s) and the wrong password.
	var unexpected []string
	for _, p := range b.problems() {
		if !(strings.Contains(p, "401") && strings.Contains(p, "Failed to load resource")) {
			unexpected = append(unexpected, p)
		}
	}
	if len(unexpected) > 0 {
		t.Errorf("the console logged %d errors, warnings or exceptions:\n%s", len(unexpected), strings.Join(unexpected, "\n"))
	}
}

package sanitize

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Local words are the names of this machine and of its user, which no
// counter name may carry: the host name (whole, and its first label), the
// user name (USER, LOGNAME, USERNAME; DOMAIN\user is cut to user), the
// home folder's name (HOME, USERPROFILE) and the value of any environment
// variable that looks like a token or an identifier. A counter name
// carries one when it holds all its parts in a row, parts being cut at
// '.', '_' and '-' and compared in lower case: under USER=alice,
// "feature.alice.count" is dropped and "feature.malice.count" is not.
//
// The data-shape rules cannot tell a host or user name from a feature's
// name, since both are plain words; here they are known. They are read
// once, when the first name is checked, from os.Hostname and the
// environment only (no file).

// machine is what the local words are made from.
type machine struct {
	host string   // os.Hostname, or "" when unknown
	env  []string // KEY=value pairs, as os.Environ returns them
}

// localWord is one local word in canonical form, ".part.part.", and the
// rule that names where it came from.
type localWord struct {
	parts []byte
	rule  string
}

// commonLocalWords never count as local words. Each names a role rather
// than a person or a machine: the default account, home folder or host
// name of an OS image, a container image, a CI service or a development
// environment. Thousands of unrelated machines share each one, so it
// identifies no one, while treating it as private would drop the feature
// of the same name everywhere it is the default: "root" in most
// containers, "runner" on GitHub Actions, "app" when HOME is /app.
var commonLocalWords = []string{
	// Operating systems and their images.
	"root", "admin", "administrator", "user", "guest", "default", "nobody", "daemon",
	"system", "localhost", "ubuntu", "debian", "fedora", "centos", "alpine", "pi",
	"ec2-user", "azureuser", "opc",
	// Container images and platforms.
	"app", "node", "docker", "www-data", "nginx", "postgres", "jovyan", "worker", "service",
	// CI services.
	"runner", "runneradmin", "jenkins", "gitlab-runner", "buildkite-agent", "circleci",
	"travis", "ci", "build", "builder", "vagrant",
	// Development environments.
	"vscode", "codespace", "gitpod", "coder", "dev", "developer", "sandbox",
	// Generic folders a home is set to.
	"home", "shared", "work", "workspace", "data", "tmp",
}

// canonical lowers s, writes every byte that is not a letter or a digit
// ('_', '-', '+') as '.' and puts a '.' at both ends, so that a word is
// found as a whole however a name joins its parts.
func canonical(s string) []byte {
	b := make([]byte, 0, len(s)+2)
	return appendCanonical(b, s)
}

func appendCanonical(b []byte, s string) []byte {
	b = append(b, '.')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case !('a' <= c && c <= 'z' || '0' <= c && c <= '9'):
			c = '.'
		}
		b = append(b, c)
	}
	return append(b, '.')
}

// thisMachine reads the real host name and environment.
func thisMachine() machine {
	h, _ := os.Hostname()
	return machine{host: h, env: os.Environ()}
}

// wordsOf lists the local words of m.
func wordsOf(m machine) []localWord {
	var words []localWord
	// seen starts with commonLocalWords, in canonical form. It is made here,
	// once per process, rather than at package init, which every program
	// that links the package pays for, telemetry off too.
	seen := make(map[string]bool, len(commonLocalWords))
	for _, w := range commonLocalWords {
		seen[string(canonical(w))] = true
	}
	add := func(w, rule string) {
		c := canonical(w)
		if len(w) < 2 || !nameChars(w) || seen[string(c)] {
			return
		}
		seen[string(c)] = true
		words = append(words, localWord{c, rule})
	}
	if m.host != "" {
		add(m.host, "host")
		add(m.host[:strings.IndexByte(m.host+".", '.')], "host")
	}
	for _, kv := range m.env {
		switch k, v, _ := strings.Cut(kv, "="); k {
		case "USER", "LOGNAME", "USERNAME":
			add(v[strings.LastIndexByte(v, '\\')+1:], "user")
		case "HOME", "USERPROFILE":
			add(baseName(v), "home")
		}
	}
	for _, kv := range m.env {
		if _, v, _ := strings.Cut(kv, "="); tokenLike(v) {
			add(v, "env")
		}
	}
	return words
}

// baseName is the last element of a Unix or Windows path.
func baseName(p string) string {
	p = strings.TrimRight(p, `/\`)
	return p[strings.LastIndexAny(p, `/\`)+1:]
}

// nameChars reports whether w could appear whole in a counter name.
func nameChars(w string) bool {
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// tokenLike reports whether an environment variable's value looks like a
// token or an identifier: at least 8 characters that could appear in a
// counter name, with a part that mixes letters and digits the way random
// strings do. Plain words (AGENT=langgraph), numbers and version or model
// names (claude-3-5-sonnet-20241022, gpt-4o-mini, ubuntu22, en_US.UTF-8)
// are left out: they are too often a feature's name too.
func tokenLike(v string) bool {
	if len(v) < 8 || !nameChars(v) {
		return false
	}
	for p := range strings.FieldsFuncSeq(v, isJoiner) {
		if !ordinaryPart(strings.ToLower(p)) {
			return true
		}
	}
	return false
}

func isJoiner(r rune) bool { return r == '.' || r == '_' || r == '-' }

// ordinaryPart reports whether a lower-case part is a word, a number, a
// short tag (4o, 8b, x64, v2), a word with a small version number
// (python3, qwen2, ubuntu22) or a number with a unit (70b, 405b, 128k):
// at most one change between letters and digits, and short on one side.
func ordinaryPart(p string) bool {
	if changes(p) > 1 {
		return false
	}
	if len(p) <= 4 {
		return true
	}
	letters := 0
	for letters < len(p) && !isDigit(p[letters]) {
		letters++
	}
	digits := 0
	for letters+digits < len(p) && isDigit(p[letters+digits]) {
		digits++
	}
	if letters+digits == len(p) { // a word then a number
		return letters == 0 || digits <= 2
	}
	if letters > 0 {
		return false
	}
	rest := 0
	for digits+rest < len(p) && !isDigit(p[digits+rest]) {
		rest++
	}
	// A number then a unit; a word alone has digits == 0 and ends here too.
	return digits+rest == len(p) && (digits == 0 || digits <= 3 && rest <= 2)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// machineWords are the words of the machine the program runs on.
var machineWords = sync.OnceValue(func() []localWord { return wordsOf(thisMachine()) })

// simulated, when set, replaces machineWords: tests use it to check names
// under the environments of other machines.
var simulated atomic.Pointer[[]localWord]

func localWords() []localWord {
	if w := simulated.Load(); w != nil {
		return *w
	}
	return machineWords()
}

// HoldsLocalWord reports whether s holds one of this machine's local words
// (see Explain) as whole parts, parts being cut at every character that is
// not a letter or a digit. It is the check CounterName applies, for the
// other values a program sends as they are, such as its version.
func HoldsLocalWord(s string) bool {
	return localWordIn(s) != ""
}

// localWordIn returns where the first local word that s holds comes from
// ("host", "user", "home", "env"); "" when it holds none.
func localWordIn(s string) string {
	words := localWords()
	if len(words) == 0 {
		return ""
	}
	// A name is at most MaxString bytes; the array keeps the usual case
	// off the heap.
	var buf [256]byte
	name := appendCanonical(buf[:0], s)
	for _, w := range words {
		if bytes.Contains(name, w.parts) {
			return w.rule
		}
	}
	return ""
}

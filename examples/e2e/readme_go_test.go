package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// goBlock is one ```go block of the README.
type goBlock struct {
	line int // of its first line of code
	code string
}

func readmeGoBlocks(t *testing.T) []goBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []goBlock
	var cur *goBlock
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &goBlock{line: i + 2}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a go block is not closed", cur.line-1)
	}
	return blocks
}

// fragmentImports are the packages a fragment may use without importing
// them, by the name it uses.
var fragmentImports = map[string]string{
	"context":      "context",
	"errors":       "errors",
	"fmt":          "fmt",
	"log":          "log",
	"os":           "os",
	"otel":         "go.opentelemetry.io/otel",
	"metric":       "go.opentelemetry.io/otel/metric",
	"sdkmetric":    "go.opentelemetry.io/otel/sdk/metric",
	"exporter":     "github.com/Idun-Group/idun-telemetry-go/exporter",
	"telemetrycmd": "github.com/Idun-Group/idun-telemetry-go/exporter/telemetrycmd",
	"instrument":   "github.com/Idun-Group/idun-telemetry-go/instrument",
}

// program completes a README block into a Go file. The convention (also
// in the README's Testing section): a block that starts with "package" is
// a whole file, compiled as is; any other block is a fragment, the body of
// func main, which may leave out its imports: the packages of
// fragmentImports it names (exporter.New, sdkmetric.WithReader) are
// imported for it.
func program(b goBlock) string {
	if strings.HasPrefix(strings.TrimSpace(b.code), "package ") {
		return b.code
	}
	var imports []string
	for name, path := range fragmentImports {
		if regexp.MustCompile(`\b` + name + `\.`).MatchString(b.code) {
			imports = append(imports, fmt.Sprintf("%s %q", name, path))
		}
	}
	slices.Sort(imports)
	return fmt.Sprintf("package main\n\nimport (\n\t%s\n)\n\nfunc main() {\n%s}\n", strings.Join(imports, "\n\t"), b.code)
}

// TestReadmeGoCompiles builds and vets every Go block of the README, each
// completed into a program, in a module that uses this checkout.
func TestReadmeGoCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the README's code")
	}
	blocks := readmeGoBlocks(t)
	if len(blocks) < 4 {
		t.Fatalf("found only %d go blocks in README.md", len(blocks))
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	// The module's own requirements, listed here too, keep go from loading
	// the go.mod of versions the module does not use (logr v1.2.2, which
	// stdr asks for), which a module cache filled by building the module
	// does not hold.
	ours, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	_, requires, _ := strings.Cut(string(ours), "\nrequire")
	gomod := "module readmecheck\n\ngo 1.26.8\n\nrequire github.com/Idun-Group/idun-telemetry-go v0.0.0\n\nreplace github.com/Idun-Group/idun-telemetry-go => " + root + "\n\nrequire" + requires
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", gomod)
	write("go.sum", string(sum))
	lineOf := map[string]int{}
	for _, b := range blocks {
		pkg := fmt.Sprintf("readme_line_%d", b.line)
		lineOf[pkg] = b.line
		write(filepath.Join(pkg, "main.go"), program(b))
	}
	// The module cache is the test's own: no download. -mod=mod lets go
	// add the requirements the README's imports need, from the cache.
	cmd := exec.Command(goTool(), "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the README's Go code does not build (readme_line_N is the block that starts at README.md:N):\n%s", out)
	}
}

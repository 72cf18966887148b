// Command reach measures how far an operation of the cache reaches into
// its code: the functions of package cache (and of its internal packages)
// that (*cache.Kind).Fetch, Get and Set can reach, and the files they are
// in. A function reaches every function its body names: the ones it calls,
// the closures it makes, the functions and method values it passes on;
// closures are walked through but not counted, generic functions count
// once, and the compiler's wrappers are transparent. Fewer functions in
// fewer files means an operation can be read, and changed, in fewer places.
//
//	go -C benchmarks run ./cmd/reach -dir ..
//	go -C benchmarks run ./cmd/reach -dir .. -list Get   # the functions, by file
package main

import (
	"flag"
	"fmt"
	"go/types"
	"log"
	"os"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

const cachePath = "github.com/media-gateway/discovery/cache"

func main() {
	dir := flag.String("dir", ".", "root of the library's module")
	methods := flag.String("methods", "Fetch,Get,Set", "methods of *cache.Kind to measure")
	list := flag.String("list", "", "also list the functions one method reaches, by file")
	flag.Parse()
	pkgs, err := packages.Load(&packages.Config{Mode: packages.LoadAllSyntax, Dir: *dir}, "./cache/...")
	if err != nil {
		log.Fatal(err)
	}
	if packages.PrintErrors(pkgs) > 0 {
		os.Exit(1)
	}
	files := map[bool]int{} // by scope: package cache alone (false), with its internal packages (true)
	for _, p := range pkgs {
		if p.PkgPath == cachePath {
			files[false] += len(p.GoFiles)
		}
		if inScope(p.PkgPath, true) {
			files[true] += len(p.GoFiles)
		}
	}
	prog, _ := ssautil.AllPackages(pkgs, 0)
	prog.Build()
	kind := prog.ImportedPackage(cachePath).Pkg.Scope().Lookup("Kind").(*types.TypeName)
	all := universe(prog)
	for _, m := range strings.Split(*methods, ",") {
		obj, _, _ := types.LookupFieldOrMethod(types.NewPointer(kind.Type()), true, kind.Pkg(), m)
		if obj == nil {
			log.Fatalf("(*cache.Kind) has no method %s", m)
		}
		var roots []*ssa.Function
		for fn := range all {
			if origin(fn).Object() == obj {
				roots = append(roots, fn)
			}
		}
		for _, withInternal := range []bool{false, true} {
			reached := reach(roots, withInternal)
			byFile := map[string][]string{}
			for name, file := range reached {
				byFile[file] = append(byFile[file], name)
			}
			scope := "package cache"
			if withInternal {
				scope = "cache and cache/internal/..."
			}
			fmt.Printf("Kind.%-6s reaches %3d functions of %s, in %2d of its %2d files\n", m, len(reached), scope, len(byFile), files[withInternal])
			if m == *list && !withInternal {
				paths := make([]string, 0, len(byFile))
				for f := range byFile {
					paths = append(paths, f)
				}
				sort.Strings(paths)
				for _, f := range paths {
					sort.Strings(byFile[f])
					fmt.Printf("  %s: %s\n", f, strings.Join(byFile[f], ", "))
				}
			}
		}
	}
}

// inScope reports whether the package at path is measured.
func inScope(path string, withInternal bool) bool {
	return path == cachePath || withInternal && strings.HasPrefix(path, cachePath+"/internal/")
}

// origin is fn's generic origin, or fn.
func origin(fn *ssa.Function) *ssa.Function {
	if o := fn.Origin(); o != nil {
		return o
	}
	return fn
}

// reach returns the functions reachable from roots, in scope, by name,
// with the file of each (relative to cache/).
func reach(roots []*ssa.Function, withInternal bool) map[string]string {
	reached := map[string]string{}
	seen := map[*ssa.Function]bool{}
	stack := append([]*ssa.Function(nil), roots...)
	for _, r := range roots {
		seen[r] = true
	}
	var ops [16]*ssa.Value
	for len(stack) > 0 {
		fn := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		o := origin(fn)
		if o.Pkg != nil && inScope(o.Pkg.Pkg.Path(), withInternal) && fn.Synthetic == "" && fn.Parent() == nil {
			file := prog(fn).Fset.Position(o.Pos()).Filename
			if i := strings.LastIndex(file, "/cache/"); i >= 0 {
				file = file[i+len("/cache/"):]
			}
			reached[o.RelString(nil)] = file
		}
		for _, b := range fn.Blocks {
			for _, instr := range b.Instrs {
				for _, op := range instr.Operands(ops[:0]) {
					if g, ok := (*op).(*ssa.Function); ok && !seen[g] {
						seen[g] = true
						stack = append(stack, g)
					}
				}
			}
		}
	}
	return reached
}

func prog(fn *ssa.Function) *ssa.Program { return fn.Prog }

// universe returns every function of the program: ssautil.AllFunctions
// misses the methods of generic types (Kind[K, V]'s), so every declared
// method of every named type is added, with what their bodies name.
func universe(p *ssa.Program) map[*ssa.Function]bool {
	all := map[*ssa.Function]bool{}
	var work []*ssa.Function
	add := func(fn *ssa.Function) {
		if fn != nil && !all[fn] {
			all[fn] = true
			work = append(work, fn)
		}
	}
	for f := range ssautil.AllFunctions(p) {
		add(f)
	}
	for _, pkg := range p.AllPackages() {
		for _, mem := range pkg.Members {
			if t, ok := mem.(*ssa.Type); ok {
				if named, ok := t.Type().(*types.Named); ok && !types.IsInterface(named) {
					for i := range named.NumMethods() {
						add(p.FuncValue(named.Method(i)))
					}
				}
			}
		}
	}
	var ops [16]*ssa.Value
	for len(work) > 0 {
		fn := work[len(work)-1]
		work = work[:len(work)-1]
		for _, b := range fn.Blocks {
			for _, instr := range b.Instrs {
				for _, op := range instr.Operands(ops[:0]) {
					if g, ok := (*op).(*ssa.Function); ok {
						add(g)
					}
				}
			}
		}
	}
	return all
}

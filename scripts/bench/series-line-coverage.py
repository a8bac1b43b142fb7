#!/usr/bin/env python3
"""Line coverage of source files from a source-based coverage profile: all
of each file, and only the lines the series adds to it.

    series-line-coverage.py [--uncovered] BINARY PROFDATA SRC_DIR FILE...

Prints a line "covered/total(percent) covered/total(percent)" per FILE, in
order; with --uncovered, then the series' code lines of each FILE that did
not run, as ranges ("FILE: 120-124 130 ..."), to see what a fuzzer misses
(llvm-cov-14 show BINARY -instr-profile=PROFDATA FILE shows them in place).
llvm-cov reads the binary's coverage mapping once; lines that are not code
(no DA: record in llvm-cov's lcov export) do not count.  The series' lines
are those "git diff base HEAD" adds in SRC_DIR.
"""
import re
import subprocess
import sys


def added_lines(src, path):
    diff = subprocess.run(['git', '-C', src, 'diff', '-U0', 'base', 'HEAD',
                           '--', path], capture_output=True, text=True,
                          check=True).stdout
    lines = set()
    for m in re.finditer(r'^@@ -\S+ \+(\d+)(?:,(\d+))? @@', diff, re.M):
        start, count = int(m.group(1)), int(m.group(2) or 1)
        lines.update(range(start, start + count))
    return lines


def counts(binary, profdata, paths):
    """{path: {line: covered}} of the code lines of each path, from
    llvm-cov's lcov export (its SF: names are as compiled, e.g.
    BUILD/../src/hw/x.c, so match a file by its path below the source
    tree)."""
    out = subprocess.run(['llvm-cov-14', 'export', binary,
                          '-instr-profile=' + profdata, '-format=lcov'],
                         capture_output=True, text=True).stdout
    result = {path: {} for path in paths}
    mine = None
    for line in out.splitlines():
        if line.startswith('SF:'):
            mine = next((result[p] for p in paths
                         if line[3:].endswith('/' + p)), None)
        elif mine is not None and line.startswith('DA:'):
            num, count = line[3:].split(',')[:2]
            mine[int(num)] = mine.get(int(num), False) or int(count) > 0
    return result


def fmt(covered, total):
    if not total:
        return '-'
    return f'{covered}/{total}({100 * covered / total:.1f}%)'


def ranges(lines):
    out = []
    for n in sorted(lines):
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return ' '.join(str(a) if a == b else f'{a}-{b}' for a, b in out)


def main():
    args = sys.argv[1:]
    uncovered = args[:1] == ['--uncovered']
    if uncovered:
        args = args[1:]
    binary, profdata, src = args[:3]
    paths = args[3:]
    all_counts = counts(binary, profdata, paths)
    missed = {}
    for path in paths:
        c = all_counts[path]
        new = added_lines(src, path)
        all_cov = sum(1 for v in c.values() if v)
        new_lines = [v for k, v in c.items() if k in new]
        print(fmt(all_cov, len(c)), fmt(sum(new_lines), len(new_lines)))
        missed[path] = [k for k, v in c.items() if k in new and not v]
    if uncovered:
        for path in paths:
            print(f'{path}: {ranges(missed[path])}')


if __name__ == '__main__':
    main()

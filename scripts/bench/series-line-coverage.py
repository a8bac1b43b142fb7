#!/usr/bin/env python3
"""Line coverage of source files from a source-based coverage profile: all
of each file, and only the lines the series adds to it.

    series-line-coverage.py BINARY PROFDATA SRC_DIR FILE...

Prints a line "covered/total(percent) covered/total(percent)" per FILE, in
order (llvm-cov reads the binary's coverage mapping once); lines that are not
code (no DA: record in llvm-cov's lcov export) do not count.  The series' lines are
those "git diff base HEAD" adds in SRC_DIR.
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


def main():
    binary, profdata, src = sys.argv[1:4]
    paths = sys.argv[4:]
    all_counts = counts(binary, profdata, paths)
    for path in paths:
        c = all_counts[path]
        new = added_lines(src, path)
        all_cov = sum(1 for v in c.values() if v)
        new_lines = [v for k, v in c.items() if k in new]
        print(fmt(all_cov, len(c)), fmt(sum(new_lines), len(new_lines)))


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Turns the EXAMPLES section of a man page into one bash script.

usage: man_examples.py [--skip REGEX]... PAGE > script.sh

PAGE is a man page (its EXAMPLES section) or a Markdown file (README.md:
its fenced code blocks, all shell).  A line that matches a --skip REGEX is
not run; the script says so, and the caller says where it is tested.

Every `.Bd -literal` block of the section becomes part of the script, in the
page's order, so a later block uses what an earlier one made (as a reader
going down the page does).  What a block is decides how it runs:

  shell       as written
  $ prompts   the lines after "$ " (with their continuations) are run; the
              rest is the output the page shows, and is dropped
  python      /usr/bin/python3 (Debian's numpy and h5py; a block that imports
              torch is skipped without python3-torch), with the page's
              earlier blocks that define functions in front, and
              numpy imported as np; ekn_stream's read and write are there
              for pages that use the reader of ekn-stream(5)
  spec        written to a file and checked by ekn-calc
  makefile    written to a file and run by make
  C           wrapped in main() and compiled against libekn.a ($EKN_CC_FLAGS),
              then run on $EKN_C_INPUT

Standard library only: the python3 first on PATH may lack numpy.
"""
import re
import shlex
import sys


def unescape(line):
    line = line.replace('\\e', '\x00').replace('\\&', '').replace('\\(aq', "'")
    line = line.replace('\\-', '-').replace('\\(ga', '`').replace('\\(ti', '~')
    return line.replace('\x00', '\\')


def blocks(text):
    out, cur, in_ex = [], None, False
    for line in text.splitlines():
        if line.startswith('.Sh '):
            in_ex = line.strip() == '.Sh EXAMPLES'
            continue
        if not in_ex:
            continue
        if line.startswith('.Bd -literal'):
            cur = []
        elif line.startswith('.Ed') and cur is not None:
            out.append(cur)
            cur = None
        elif cur is not None:
            cur.append(unescape(line))
    return out


def markdown_blocks(text):
    out, cur = [], None
    for line in text.splitlines():
        if line.startswith('```'):
            if cur is None:
                cur = []
            else:
                out.append(cur)
                cur = None
        elif cur is not None:
            cur.append(line)
    return out


def kind(block):
    lines = [l for l in block if l.strip()]
    if not lines:
        return 'empty'
    first = lines[0]
    if any(l.startswith('$ ') for l in lines):
        return 'prompt'
    if re.match(r'(import|from) \w', first) or (re.match(r'(for|with|def) ', first) and
                                                 first.rstrip().endswith(':')):
        return 'python'
    if first.startswith('[input]') or (first.startswith('#') and
                                       any(l.startswith('[input]') for l in lines)):
        return 'spec'
    if any(l.startswith('\t') for l in lines):
        return 'makefile'
    if re.match(r'\w+ \w+( = .*)?;$', first):
        return 'c'
    return 'shell'


def prompt_commands(block):
    cmds, cont = [], False
    for line in block:
        if line.startswith('$ '):
            cmds.append(line[2:])
        elif cont:
            cmds.append(line)
        else:
            continue
        s = line.rstrip()
        cont = s.endswith('\\') or s.endswith('|') or s.endswith('&&')
    return cmds


def heredoc(path, lines):
    tag = 'EKN_EXAMPLE_EOF'
    return [f"cat > {shlex.quote(path)} <<'{tag}'"] + lines + [tag]


def skip_lines(lines, skips):
    out = []
    for line in lines:
        if any(re.search(r, line) for r in skips):
            out.append('echo %s >&2' % shlex.quote('skipped here: ' + line.strip()))
        else:
            out.append(line)
    return out


def script(page, skips=()):
    with open(page, encoding='utf-8') as f:
        text = f.read()
    md = page.endswith('.md')
    bs = markdown_blocks(text) if md else blocks(text)
    py_defs = []
    # a block may leave a job in the background (ekn-plot log -F): it ends with the page
    out = ['# made by tests/man_examples.py from ' + page, 'set -e',
           'trap \'kill $(jobs -p) 2>/dev/null || true; wait || true\' EXIT']
    for i, b in enumerate(bs, 1):
        k = 'shell' if md else kind(b)
        b = skip_lines(b, skips)
        out.append(f'echo "--- {page} example {i} ({k}) at ${{SECONDS}}s" >&2')
        if k == 'shell':
            out += b
        elif k == 'prompt':
            out += prompt_commands(b)
        elif k == 'python':
            prelude = ['import sys', 'sys.path.insert(0, "%s")' % '${EKN_TESTS}',
                       'import numpy as np']
            if not any(re.match(r'def read\b', l) for l in py_defs):
                prelude.append('from ekn_stream import read, write')
            name = f'example-{i}.py'
            out += heredoc(name, prelude + py_defs + b)
            # the tests' directory is known only when the script runs
            out.append(f'sed -i "s|\\${{EKN_TESTS}}|$EKN_TESTS|" {name}')
            if any(re.match(r'import .*\btorch\b', l) for l in b):
                # Debian's python3-torch is big, and not among the test dependencies
                out.append(f'if /usr/bin/python3 -c "import torch" 2>/dev/null; then /usr/bin/python3 {name}; '
                           f'else echo "example {i} skipped: no python3-torch" >&2; fi')
            else:
                out.append(f'/usr/bin/python3 {name}')
            if any(l.startswith('def ') for l in b):
                py_defs += b
        elif k == 'spec':
            name = f'example-{i}.spec'
            out += heredoc(name, b)
            out.append(f'ekn-calc {name} >/dev/null')
        elif k == 'makefile':
            name = f'example-{i}.mk'
            out += heredoc(name, b)
            out.append(f'make -s -f {name}')
        elif k == 'c':
            name = f'example-{i}.c'
            body = ['#include <stdio.h>', '#include "stream.h"', '#include "diag.h"',
                    'int main(void) {'] + ['    ' + l for l in b] + ['    return 0;', '}']
            out += heredoc(name, body)
            out.append(f'$EKN_CC {name} $EKN_CC_FLAGS -o example-{i}')
            out.append(f'./example-{i} < "$EKN_C_INPUT"')
    return '\n'.join(out) + '\n'


if __name__ == '__main__':
    args, skips = sys.argv[1:], []
    while len(args) > 2 and args[0] == '--skip':
        skips.append(args[1])
        args = args[2:]
    if len(args) != 1:
        sys.exit('usage: man_examples.py [--skip REGEX]... PAGE')
    sys.stdout.write(script(args[0], skips))

"""Bash completion (contrib/completion/): each script is sourced into a bash
that completes a command line as readline would hand it over (COMP_LINE,
COMP_POINT, the default COMP_WORDBREAKS), and the replies are checked."""

import subprocess

import pytest

from weightfs_binaries import REPO

COMPLETION = REPO / "contrib" / "completion"

HARNESS = r'''
source "$1" || exit 3
COMP_LINE=$2
COMP_POINT=${#COMP_LINE}
COMP_WORDBREAKS=$' \t\n"'"'"'><=;|&(:'
fn=$(complete -p "${COMP_LINE%% *}" | sed 's/.*-F \([^ ]*\).*/\1/')
compopt() { :; }   # only valid inside a real completion
"$fn"
printf '%s\n' "${COMPREPLY[@]}"
'''


def complete(line, cwd):
    prog = line.split()[0]
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", HARNESS, "harness",
                        str(COMPLETION / prog), line], capture_output=True, text=True,
                       cwd=cwd, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "", p.stderr
    return sorted(w for w in p.stdout.split("\n") if w)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "llama.safetensors").write_bytes(b"")
    (tmp_path / "mnt").mkdir()
    (tmp_path / "notes.txt").write_text("")
    return tmp_path


@pytest.mark.parametrize("line,want", [
    ("weightfs --he", ["--help"]),
    ("weightfs -", ["--help", "--version", "-V", "-d", "-f", "-h", "-o", "-s"]),
    ("weightfs -o lay", ["layout="]),
    ("weightfs -o layout=", ["flat", "modules", "tree"]),
    ("weightfs -o layout=t", ["tree"]),
    ("weightfs -o ro,io=s", ["splice"]),
    ("weightfs -o allow_other,cache_", ["allow_other,cache_dir=", "allow_other,cache_dir_size=",
                                         "allow_other,cache_size="]),
    ("weightfs -olayout=f", ["flat"]),
    ("weightfs -o logfile=no", ["notes.txt"]),
    ("weightfs -o cache_dir=", ["mnt", "models"]),
    ("weightfs hf", ["hf://"]),
    ("weightfs s3:", ["//"]),
    ("weightfs models/ll", ["models/llama.safetensors"]),
    ("weightfs models/llama.safetensors ", ["mnt", "models"]),
    ("weightfs -f -o layout=tree models/llama.safetensors m", ["mnt", "models"]),
    ("weightfs models/llama.safetensors mnt ", []),
])
def test_weightfs(tree, line, want):
    assert complete(line, tree) == want


@pytest.mark.parametrize("line,want", [
    ("weightfs-inspect ", ["--help", "--version", "diff", "ls", "stats", "summary", "verify"]),
    ("weightfs-inspect ve", ["verify"]),
    ("weightfs-inspect verify --", ["--hash", "--help", "--jobs", "--json", "--no-progress", "--strict"]),
    ("weightfs-inspect ls -", ["--help", "--json", "-h"]),
    ("weightfs-inspect summary mo", ["models"]),
    ("weightfs-inspect summary hf", ["hf://"]),
    ("weightfs-inspect diff models/llama.safetensors no", ["notes.txt"]),
    ("weightfs-inspect ls models/llama.safetensors no", []),  # a GLOB, not a file
])
def test_weightfs_inspect(tree, line, want):
    assert complete(line, tree) == want


def test_every_help_option_is_completed(tree, weightfs_bin):
    """Every -o option that --help lists is offered after -o."""
    import re
    text = subprocess.run([str(weightfs_bin), "--help"], capture_output=True, text=True).stdout
    names = {n for m in re.finditer(r"-o ([a-z_]+(?:,[a-z_]+)*)", text) for n in m.group(1).split(",")}
    offered = {w.rstrip("=") for w in complete("weightfs -o ", tree)}
    assert names <= offered, sorted(names - offered)

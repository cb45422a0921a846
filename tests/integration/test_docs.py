"""The documentation says what the programs do: every option that
`weightfs --help` and `weightfs-inspect [COMMAND] --help` list appears in the
man page and in the README, and both man pages are clean under
`groff -man -ww -z` (no warning of any kind)."""

import re
import subprocess

import pytest

from weightfs_binaries import REPO, require_inspect

MAN_WEIGHTFS = REPO / "doc" / "weightfs.1"
MAN_INSPECT = REPO / "doc" / "weightfs-inspect.1"
README = REPO / "README.md"


def help_text(*argv):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    return p.stdout


def options_in_help(text):
    """The options a help text lists: '-o NAME' (each of 'a,b,c'), '-x', '--long'."""
    found = set()
    for line in text.splitlines():
        if not line.startswith("    -"):
            continue
        for m in re.finditer(r"-o ([a-z_]+(?:,[a-z_]+)*)", line):
            found.update(f"-o {name}" for name in m.group(1).split(","))
        first = line.strip().split("  ")[0]
        found.update(o for o in re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", first) if o != "-o")
    return found


def man_text(path):
    """The man page's words without roff escapes: '\\-o layout=' -> '-o layout='."""
    text = path.read_text()
    text = re.sub(r"\\f[BIRP]", "", text).replace("\\-", "-")
    return re.sub(r"^\.[A-Z]+ ?", "", text, flags=re.M).replace('"', "")


def documented(option, text):
    if option.startswith("-o "):
        return re.search(r"(?<![\w-])" + re.escape(option[3:]) + r"(?![\w])", text) is not None
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


def weightfs_options(weightfs_bin):
    opts = options_in_help(help_text(weightfs_bin, "--help"))
    assert {"-f", "-d", "-s", "-o layout", "-o fsname", "-o cache_dir", "-o logfile",
            "-o allow_other", "-o files"} <= opts, opts  # the parser itself works
    return opts


def inspect_options():
    binary = require_inspect()
    opts = options_in_help(help_text(binary, "--help"))
    for cmd in ("summary", "ls", "stats", "verify", "diff"):
        opts |= options_in_help(help_text(binary, cmd, "--help"))
    assert {"--json", "--hash", "-j"} <= opts, opts
    return opts


@pytest.mark.parametrize("doc", [MAN_WEIGHTFS, README], ids=["man", "README"])
def test_every_weightfs_option_is_documented(weightfs_bin, doc):
    text = man_text(doc) if doc.suffix == ".1" else doc.read_text()
    missing = sorted(o for o in weightfs_options(weightfs_bin) if not documented(o, text))
    assert not missing, f"{doc.name} does not mention {missing}"


@pytest.mark.parametrize("doc", [MAN_INSPECT, README], ids=["man", "README"])
def test_every_inspect_option_is_documented(doc):
    text = man_text(doc) if doc.suffix == ".1" else doc.read_text()
    missing = sorted(o for o in inspect_options() if not documented(o, text))
    assert not missing, f"{doc.name} does not mention {missing}"


def test_documented_check_can_fail():
    assert not documented("-o cache_dir_sizes", "-o cache_dir=DIR")
    assert not documented("--hash", "--hashes")
    assert documented("-o layout", "-o layout=NAME")


@pytest.mark.parametrize("page", [MAN_WEIGHTFS, MAN_INSPECT], ids=lambda p: p.name)
def test_man_page_is_clean_under_groff(page):
    p = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_man_page_sections():
    text = man_text(MAN_WEIGHTFS)
    for section in ("SYNOPSIS", "SOURCE", "OPTIONS", "NAMESPACE", "EXIT STATUS", "SIGNALS",
                    "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"):
        assert re.search(rf"^{section}$", text, re.M), section
    for word in ("https://", "hf://", "s3://", "HF_TOKEN", "AWS_ACCESS_KEY_ID", "fuse.weightfs",
                 "[Mount]", "Type=notify", "%2F", "user.dtype"):
        assert word in text, word


def first_example_paths():
    """The paths under /mnt/model/ in the README's first code block."""
    text = README.read_text()
    block = text.split("```", 2)[1]
    return sorted(set(re.findall(r"/mnt/model/[\w./-]*\w", block)))


def test_readme_first_example_paths_exist(mount, llama_dir):
    """The first example works on a Llama-shaped model in the default layout."""
    paths = first_example_paths()
    assert len(paths) >= 2, paths
    mnt = mount(llama_dir)
    for p in paths:
        assert (mnt / p[len("/mnt/model/"):]).exists(), p


def test_readme_bf16_recipe(mount, tmp_path):
    """(a.astype(np.uint32) << 16).view(np.float32) gives the BF16 values."""
    import numpy as np
    from safetensors_writer import write_safetensors
    assert "(a.astype(np.uint32) << 16).view(np.float32)" in README.read_text()
    values = np.array([1.0, -2.5, 0.15625, 2.0 ** 100, -0.0], np.float32)  # exact in BF16
    bf16 = (values.view(np.uint32) >> 16).astype("<u2")
    write_safetensors(tmp_path / "m.safetensors", {"model.norm.weight": ("BF16", [5], bf16.tobytes())})
    mnt = mount(tmp_path / "m.safetensors")
    a = np.fromfile(mnt / "model" / "norm.weight", np.uint16)
    f = (a.astype(np.uint32) << 16).view(np.float32)
    assert f.tolist() == values.tolist()

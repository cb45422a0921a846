"""Tensor names that cannot be file names as they are (README "Names that
cannot be file names")."""

import os

import pytest

import checks
import expect
from safetensors_writer import random_tensors, write_safetensors

LONG = "x" * 300
LONG_UTF8 = "\u00e9" * 150  # 300 bytes of two-byte characters

ODD_NAMES = [
    "plain.layers.0.attn.w",
    "a..b",                 # empty component
    ".lead.w",              # empty first component
    "trail.w.",             # empty last component
    "..x.w",                # modules directory "."
    "...x.w",               # modules directory ".."
    ".",
    "..",
    "pct%.w",
    "lit%2F.w",             # a literal "%2F" must not decode to "/"
    "sl/ash.w",
    "a/b/c.layer.w",
    "a.b",                  # file/directory clash with a.b.c.d
    "a.b.c.d",
    "long." + LONG + ".w",
    LONG_UTF8 + ".w",
    "\u00fcn\u00ef.c\u00f6d\u00e9.w",
    "sp ace.new\nline.w",
]

# (name, layout, path) straight from the README's rules, written out by hand.
LITERAL_PATHS = [
    ("a..b", "modules", "a/.b"),
    ("a..b", "tree", "a/%/b"),
    ("a..b", "flat", "a..b"),
    (".lead.w", "modules", "%/lead.w"),
    (".lead.w", "tree", "%/lead/w"),
    ("trail.w.", "tree", "trail/w/%"),
    ("..x.w", "modules", "%2E/x.w"),
    ("...x.w", "modules", "%2E%2E/x.w"),
    (".", "modules", "%2E%file"),   # "..x.w" makes the directory %2E
    (".", "tree", "%/%%file"),       # "..", "..x.w" make the directory %/%
    (".", "flat", "%2E"),
    ("..", "flat", "%2E%2E"),
    ("..", "modules", "%/%2E"),
    ("pct%.w", "modules", "pct%25.w"),
    ("pct%.w", "tree", "pct%25/w"),
    ("lit%2F.w", "flat", "lit%252F.w"),
    ("sl/ash.w", "modules", "sl%2Fash.w"),
    ("a/b/c.layer.w", "modules", "a%2Fb%2Fc/layer.w"),
    ("a.b", "modules", "a.b%file"),
    ("a.b.c.d", "modules", "a.b/c.d"),
    ("a.b", "tree", "a/b%file"),
    ("a.b.c.d", "tree", "a/b/c/d"),
    ("a.b", "flat", "a.b"),
]


@pytest.fixture
def odd_file(tmp_path):
    spec = {name: ("U8", (i + 1,)) for i, name in enumerate(ODD_NAMES)}
    return write_safetensors(tmp_path / "odd.safetensors", random_tensors(spec))


@pytest.mark.parametrize("layout", expect.LAYOUTS)
def test_odd_names_match_oracle(mount, odd_file, layout):
    mnt = mount(odd_file, "-o", f"layout={layout}")
    checks.assert_mount_matches(mnt, expect.load_model(odd_file), layout)


@pytest.mark.parametrize("name,layout,path", LITERAL_PATHS,
                         ids=[f"{layout}:{path!r}" for _, layout, path in LITERAL_PATHS])
def test_literal_path(mount, odd_file, name, layout, path):
    mnt = mount(odd_file, "-o", f"layout={layout}")
    assert os.getxattr(mnt / path, "user.name") == name.encode()


def hashed(component):
    """The README's long-name form, spelled out for ASCII/UTF-8 components."""
    raw = component.encode()
    cut = 237 if raw[237] & 0xC0 != 0x80 else 236
    return raw[:cut].decode() + "%~" + format(expect.fnv1a64(raw), "016x")


@pytest.mark.parametrize("name,layout,path", [
    ("long." + LONG + ".w", "tree", "long/" + hashed(LONG) + "/w"),
    ("long." + LONG + ".w", "modules", "long/" + hashed(LONG + ".w")),
    ("long." + LONG + ".w", "flat", hashed("long." + LONG + ".w")),
    (LONG_UTF8 + ".w", "modules", hashed(LONG_UTF8 + ".w")),
], ids=["tree", "modules", "flat", "modules-utf8"])
def test_long_component_is_hashed(mount, odd_file, name, layout, path):
    mnt = mount(odd_file, "-o", f"layout={layout}")
    assert all(len(part.encode()) <= 255 for part in path.split("/"))
    assert os.getxattr(mnt / path, "user.name") == name.encode()
    assert os.path.basename(path) in os.listdir(mnt / os.path.dirname(path))


def test_names_are_valid_file_names_everywhere(mount, odd_file):
    mnt = mount(odd_file, "-o", "layout=tree")
    for root, dirs, files in os.walk(mnt):
        for entry in dirs + files:
            assert entry not in ("", ".", "..") and "/" not in entry
            assert len(os.fsencode(entry)) <= 255

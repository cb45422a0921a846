"""Invalid and hostile ONNX models and TensorFlow bundles: each must make
`weightfs SOURCE MNT` exit 4 with one clear line on stderr naming the file,
and mount nothing. Inputs are small byte strings built here or mutations
of the fixtures in tests/data."""

import os
import shutil
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import onnx_writer as ow  # noqa: E402
import tfbundle_writer as tw  # noqa: E402
from protobuf_writer import fixed32, ld, tag, uint  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
EXIT_INVALID = 4
F32x4 = b"\0\0\x80\x3f" * 4


@dataclass
class Case:
    id: str
    build: Callable  # build(dir) -> SOURCE path
    fragment: str    # what the line says
    file: str        # the file the line names


# ---- ONNX ------------------------------------------------------------------

def onnx_model(*initializers, write_extra=None):
    def build(d):
        (d / "m.onnx").write_bytes(ow.model(ow.graph(list(initializers))))
        if write_extra:
            write_extra(d)
        return d / "m.onnx"
    return build


def onnx_bytes(content):
    def build(d):
        (d / "m.onnx").write_bytes(content)
        return d / "m.onnx"
    return build


def fixture_cut(n):
    def build(d):
        raw = (DATA / "onnx-samples/raw_data.onnx").read_bytes()
        (d / "m.onnx").write_bytes(raw[:n])
        return d / "m.onnx"
    return build


def w_f32(name="w", n=4):
    return ow.tensor(name, ow.FLOAT, [n], raw=F32x4[:4 * n])


def external(location, offset=0, length=16, file_size=16):
    def write(d):
        (d / "w.bin").write_bytes(b"\0" * file_size)
    return onnx_model(ow.tensor("w", ow.FLOAT, [4], external={"location": location, "offset": offset,
                                                              "length": length}), write_extra=write)


def outside_dir(d):
    (d.parent / "outside.bin").write_bytes(b"\0" * 16)
    (d / "m.onnx").write_bytes(ow.model(ow.graph([ow.tensor("w", ow.FLOAT, [4],
                                                            external={"location": "../outside.bin"})])))
    return d / "m.onnx"


def external_is_a_directory(d):
    (d / "w.bin").mkdir()
    (d / "m.onnx").write_bytes(ow.model(ow.graph([ow.tensor("w", ow.FLOAT, [4], external={"location": "w.bin"})])))
    return d / "m.onnx"


GOOD = ow.model(ow.graph([w_f32()]))

ONNX_CASES = [
    Case("truncated-file", fixture_cut(700), "past the end", "m.onnx"),
    Case("truncated-varint", onnx_bytes(GOOD + b"\x08\x80"), "truncated", "m.onnx"),
    Case("overlong-varint", onnx_bytes(b"\x08" + b"\xff" * 10 + b"\x01"), "varint", "m.onnx"),
    Case("length-past-end", onnx_bytes(GOOD + tag(7, 2) + b"\x7f" + b"\0" * 10), "past the end", "m.onnx"),
    Case("name-wire-type", onnx_model(uint(8, 5) + uint(2, 1)), "wire type varint", "m.onnx"),
    Case("graph-wire-type", onnx_bytes(uint(1, 8) + uint(7, 3)), "wire type varint", "m.onnx"),
    Case("group-wire-type", onnx_bytes(uint(1, 8) + tag(9, 3)), "groups", "m.onnx"),
    Case("field-number-0", onnx_bytes(uint(1, 8) + b"\x00\x00"), "field number 0", "m.onnx"),
    Case("nested-10000-deep", onnx_bytes(ow.model(ow.nested_subgraphs(10000))), "nested more than", "m.onnx"),
    Case("no-ir-version", onnx_bytes(ld(2, "x") + ld(7, ow.graph([w_f32()]))), "ir_version", "m.onnx"),
    Case("raw-data-size", onnx_model(ow.tensor("w", ow.FLOAT, [5], raw=F32x4)), "raw_data holds 16 bytes",
         "m.onnx"),
    Case("duplicate-name", onnx_model(w_f32(), w_f32()), "appears twice", "m.onnx"),
    Case("int8-out-of-range", onnx_model(ow.tensor("w", ow.INT8, [2], field=5, values=[1, 300])),
         "does not fit INT8", "m.onnx"),
    Case("int32-data-count", onnx_model(ow.tensor("w", ow.INT32, [3], field=5, values=[1, 2])),
         "holds 2 values", "m.onnx"),
    Case("unknown-data-type", onnx_model(ow.tensor("w", 99, [1], raw=b"\0")), "data_type 99", "m.onnx"),
    Case("two-data-fields", onnx_model(ow.tensor("w", ow.FLOAT, [4], raw=F32x4, field=4, values=F32x4)),
         "data in both", "m.onnx"),
    Case("wrong-typed-field", onnx_model(ow.tensor("w", ow.FLOAT, [1], field=7, values=[1])),
         "int64_data cannot hold FLOAT", "m.onnx"),
    Case("unpacked-float-data", onnx_model(ow.tensor("w", ow.FLOAT, [1], extra=fixed32(4, 0))),
         "expected packed", "m.onnx"),
    Case("negative-dim", onnx_model(uint(1, (1 << 64) - 1) + uint(2, 1) + ld(8, "w")), "negative dim",
         "m.onnx"),
    Case("segment", onnx_model(w_f32() + ld(3, uint(1, 0))), "segment", "m.onnx"),
    Case("external-escapes", outside_dir, "not a relative path inside", "m.onnx"),
    Case("external-absolute", external("/etc/passwd"), "not a relative path inside", "m.onnx"),
    Case("external-is-a-directory", external_is_a_directory, "w.bin", "m.onnx"),
    Case("external-past-file", external("w.bin", offset=8, length=16), "past the end of w.bin", "m.onnx"),
    Case("external-missing", external("nope.bin"), "nope.bin", "m.onnx"),
    Case("external-length", external("w.bin", length=12), "external_data length 12", "m.onnx"),
    Case("external-no-location", onnx_model(ow.tensor("w", ow.FLOAT, [4], extra=uint(14, 1))),
         "no location", "m.onnx"),
    Case("external-offset-text", external("w.bin", offset="1e3"), "not a decimal", "m.onnx"),
    Case("size-overflow", onnx_model(ow.tensor("w", ow.FLOAT, [1 << 40, 1 << 40], raw=b"")),
         "overflows", "m.onnx"),
]


# ---- TensorFlow --------------------------------------------------------------

def bundle(tensors=None, header=None, extra=None, crc=True):
    def build(d):
        tw.write_bundle(d / "model.ckpt", tensors if tensors is not None else [("w", tw.DT_FLOAT, [4], F32x4)],
                        header=header, entries_extra=extra, compute_crc=crc)
        return d / "model.ckpt"
    return build


def raw_index(entries, data=F32x4):
    def build(d):
        (d / "model.ckpt.index").write_bytes(tw.table(entries))
        (d / "model.ckpt.data-00000-of-00001").write_bytes(data)
        return d / "model.ckpt"
    return build


def good_entry(**kw):
    args = dict(dtype=tw.DT_FLOAT, dims=[4], shard_id=0, offset=0, size=16, crc=0)
    args.update(kw)
    return tw.entry_proto(**args)


def mutated_fixture(mutate, folder="saved_model_half_plus_two_mkl"):
    """The fixture's SavedModel with its .index changed by mutate(bytearray) -> bytes."""
    def build(d):
        shutil.copytree(DATA / "tf-samples" / folder / "00000123", d / "m")
        index = d / "m/variables/variables.index"
        os.chmod(index, 0o644)
        index.write_bytes(mutate(bytearray(index.read_bytes())))
        return d / "m"
    return build


def set_footer(index_offset=None, index_size=None, meta_size=None):
    def mutate(b):
        footer = b[-48:]
        from protobuf_writer import varint
        # the fixtures' handles are small: parse the four varints back
        vals, i = [], 0
        for _ in range(4):
            v, shift = 0, 0
            while True:
                byte = footer[i]
                i += 1
                v |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            vals.append(v)
        if meta_size is not None:
            vals[1] = meta_size
        if index_offset is not None:
            vals[2] = index_offset
        if index_size is not None:
            vals[3] = index_size
        new = b"".join(varint(v) for v in vals)
        return bytes(b[:-48]) + new + b"\0" * (40 - len(new)) + bytes(footer[40:])
    return mutate


def flip(offset):
    def mutate(b):
        b[offset] ^= 0x20
        return bytes(b)
    return mutate


def reseal_data_block(change):
    """Changes the mkl fixture's first data block, then fixes its CRC so only the change is wrong."""
    def mutate(b):
        size = 263  # the mkl data block: offset 0, 263 bytes, uncompressed (manifest index_layout)
        block = bytearray(b[:size])
        change(block)
        crc = tw.mask(tw.crc32c(bytes([b[size]]), tw.crc32c(bytes(block))))
        return bytes(block) + bytes([b[size]]) + struct.pack("<I", crc) + bytes(b[size + 5:])
    return mutate


def restart_count(block):
    block[-4:] = struct.pack("<I", 1000)


def restart_point(block):
    n = struct.unpack("<I", bytes(block[-4:]))[0]
    block[-4 - 4 * n:-4 - 4 * n + 4] = struct.pack("<I", 5000)


def repeated_data_block(d):
    """An index whose two entries name the same data block (reading it again and
    again would cost far more than the file's size)."""
    data, trailer = tw.block([(b"", tw.header_proto())])
    out = bytearray(data + trailer)
    meta, mtrailer = tw.block([])
    meta_handle = tw.handle(len(out), len(meta))
    out += meta + mtrailer
    h = tw.handle(0, len(data))
    idx, itrailer = tw.block([(b"", h), (b"a", h)], 1)
    index_handle = tw.handle(len(out), len(idx))
    out += idx + itrailer
    footer = meta_handle + index_handle
    out += footer + b"\0" * (40 - len(footer)) + struct.pack("<Q", tw.MAGIC)
    (d / "model.ckpt.index").write_bytes(bytes(out))
    (d / "model.ckpt.data-00000-of-00001").write_bytes(b"")
    return d / "model.ckpt"


def bad_checkpoint_file(d):
    (d / "checkpoint").write_text('model_checkpoint_path: "../elsewhere/model.ckpt"\n')
    return d


E = good_entry()
TF_CASES = [
    Case("bad-magic", mutated_fixture(flip(-1)), "table magic", "variables/variables.index"),
    Case("shorter-than-footer", mutated_fixture(lambda b: bytes(b[:40])), "too short", "variables/variables.index"),
    Case("cut-front", mutated_fixture(lambda b: bytes(b[20:])), "variables/variables.index",
         "variables/variables.index"),
    Case("index-handle-past-end", mutated_fixture(set_footer(index_offset=5000)), "past the end",
         "variables/variables.index"),
    Case("index-size-past-end", mutated_fixture(set_footer(index_size=4000)), "past the end",
         "variables/variables.index"),
    Case("metaindex-past-end", mutated_fixture(set_footer(meta_size=4000)), "metaindex block handle",
         "variables/variables.index"),
    Case("block-crc", mutated_fixture(flip(30)), "checksum", "variables/variables.index"),
    Case("restart-count", mutated_fixture(reseal_data_block(restart_count)), "restart count",
         "variables/variables.index"),
    Case("restart-point", mutated_fixture(reseal_data_block(restart_point)), "restart point",
         "variables/variables.index"),
    Case("snappy-garbage", mutated_fixture(lambda b: bytes(b[:83]) + bytes([0xff]) + bytes(b[84:]),
                                           "saved_model_half_plus_two_cpu"),
         "variables/variables.index", "variables/variables.index"),
    Case("key-order", raw_index([(b"", tw.header_proto()), (b"b", E), (b"a", E)]), "does not sort after",
         "model.ckpt.index"),
    Case("duplicate-key", raw_index([(b"", tw.header_proto()), (b"a", E), (b"a", E)]), "does not sort after",
         "model.ckpt.index"),
    Case("no-header", raw_index([(b"a", E)]), "no BundleHeaderProto", "model.ckpt.index"),
    Case("num-shards-0", bundle(header=tw.header_proto(num_shards=0)), "num_shards 0", "model.ckpt.index"),
    Case("big-endian", bundle(header=tw.header_proto(endianness=1)), "big-endian", "model.ckpt.index"),
    Case("unknown-dtype", raw_index([(b"", tw.header_proto()), (b"w", good_entry(dtype=77))]), "dtype 77",
         "model.ckpt.index"),
    Case("size-vs-shape", raw_index([(b"", tw.header_proto()), (b"w", good_entry(size=12))]), "size 12",
         "model.ckpt.index"),
    Case("shard-id", raw_index([(b"", tw.header_proto()), (b"w", good_entry(shard_id=3))]), "shard_id 3",
         "model.ckpt.index"),
    Case("data-past-shard", raw_index([(b"", tw.header_proto()), (b"w", good_entry(offset=8))]),
         "past the end of model.ckpt.data-00000-of-00001", "model.ckpt.index"),
    Case("missing-shard", raw_index([(b"", tw.header_proto(num_shards=2)), (b"w", good_entry(shard_id=1))]),
         "model.ckpt.data-00001-of-00002", "model.ckpt"),
    Case("entry-truncated-varint", raw_index([(b"", tw.header_proto()), (b"w", good_entry() + b"\x08")]),
         "truncated", "model.ckpt.index"),
    Case("entry-length-past-end", raw_index([(b"", tw.header_proto()), (b"w", good_entry() + b"\x12\x40")]),
         "past the end", "model.ckpt.index"),
    Case("crc-wire-type", raw_index([(b"", tw.header_proto()), (b"w", uint(6, 1) + good_entry())]),
         "crc32c has the wrong wire type", "model.ckpt.index"),
    Case("no-crc", raw_index([(b"", tw.header_proto()), (b"w", good_entry(crc=None))]), "no crc32c",
         "model.ckpt.index"),
    Case("unknown-rank", raw_index([(b"", tw.header_proto()), (b"w", good_entry(extra=ld(2, uint(3, 1))))]),
         "unknown rank", "model.ckpt.index"),
    Case("negative-dim", raw_index([(b"", tw.header_proto()),
                                    (b"w", good_entry(dims=[]) + ld(2, ld(2, uint(1, (1 << 64) - 1))))]),
         "negative", "model.ckpt.index"),
    Case("slice-key-garbage", raw_index([(b"", tw.header_proto()), (b"\x00\x05ab", E)]),
         "slice key", "model.ckpt.index"),
    Case("slice-key-dims", raw_index([(b"", tw.header_proto()), (tw.slice_key("w", [(0, 4)]), good_entry(dims=[2, 2]))]),
         "has 1 dims", "model.ckpt.index"),
    Case("partitioned-without-slices", raw_index([(b"", tw.header_proto()),
                                                  (b"w", good_entry(extra=ld(7, tw.slice_proto([(0, 4)]))))]),
         "without slice entries", "model.ckpt.index"),
    Case("repeated-data-block", repeated_data_block, "overlaps or precedes", "model.ckpt.index"),
    Case("checkpoint-escapes", bad_checkpoint_file, "not inside the directory", "checkpoint"),
]


def problem_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("case", ONNX_CASES + TF_CASES, ids=[f"onnx-{c.id}" for c in ONNX_CASES] +
                         [f"tf-{c.id}" for c in TF_CASES])
def test_hostile_input(run_weightfs, new_mountpoint, tmp_path, case):
    d = tmp_path / "case"
    d.mkdir()
    source = case.build(d)
    mnt = new_mountpoint()
    result = run_weightfs(source, mnt)
    assert not os.path.ismount(mnt), "an invalid input must not be mounted"
    assert result.returncode == EXIT_INVALID, result.stderr
    lines = problem_lines(result.stderr)
    assert len(lines) == 1, f"one line expected:\n{result.stderr}"
    assert case.fragment in lines[0], lines[0]
    assert case.file + ": " in lines[0] or case.file + '"' in lines[0] or case.file in lines[0], lines[0]


def test_there_are_enough_cases():
    assert len(ONNX_CASES) >= 20 and len(TF_CASES) >= 20

"""Seeds for fuzz_protobuf, fuzz_onnx and fuzz_tftable, from the fixtures in
tests/data and small models written with tests/lib's writers. Deterministic;
standard library only: /usr/bin/python3 tests/fuzz/make_seeds_onnx_tf.py"""

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))

import onnx_writer as ow  # noqa: E402
import tfbundle_writer as tw  # noqa: E402

DATA = HERE.parent / "data"
CORPUS = HERE / "corpus"


def put(target, name, content):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(content)


def main():
    for target in ("protobuf", "onnx", "tftable"):
        shutil.rmtree(CORPUS / target, ignore_errors=True)
    for f in sorted((DATA / "onnx-samples").rglob("*.onnx")):
        name = "sample-" + str(f.relative_to(DATA / "onnx-samples")).replace("/", "-")
        put("onnx", name, f.read_bytes())
        put("protobuf", name, f.read_bytes())
    for f in sorted((DATA / "tf-samples").rglob("*.index")):
        name = "sample-" + f.parts[-4]
        put("tftable", name, f.read_bytes())
    for f in sorted((DATA / "tf-samples").rglob("saved_model.pb"))[:2]:
        put("protobuf", "saved-model-" + f.parts[-3], f.read_bytes())

    sub = ow.graph([ow.tensor("b.w", ow.FLOAT, [2], raw=b"\0" * 8)])
    g = ow.graph([ow.tensor("i8", ow.INT8, [3], field=5, values=[-1, 0, 127]),
                  ow.tensor("u64", ow.UINT64, [2], field=11, values=[1, 2 ** 64 - 1]),
                  ow.tensor("f64", ow.DOUBLE, [1], field=10, values=b"\0" * 8),
                  ow.tensor("s", ow.STRING, [1], extra=b"\x32\x01x")],
                 nodes=[ow.node_with_subgraph(sub)],
                 sparse=[ow.sparse(ow.tensor("sp", ow.FLOAT, [1], raw=b"\0" * 4),
                                   ow.tensor("", ow.INT64, [1], field=7, values=[3]), [4])])
    put("onnx", "valid-every-kind", ow.model(g, metadata=[("k", "v")], opsets=[("", 13), ("ai.onnx.ml", 3)]))
    put("onnx", "bad-nested-40", ow.model(ow.nested_subgraphs(40)))
    put("onnx", "bad-external", ow.model(ow.graph([ow.tensor("w", ow.FLOAT, [1], external={"location": "w.bin"})])))
    put("protobuf", "nested-40", ow.nested_subgraphs(40))

    entries = [(b"", tw.header_proto())]
    for i in range(40):
        entries.append((f"scope/layer_{i:02d}/kernel".encode(), tw.entry_proto(tw.DT_FLOAT, [2, 2], 0, 16 * i, 16, 0)))
    put("tftable", "valid-two-blocks", tw.table(entries, block_entries=20, restart_interval=4))
    put("tftable", "valid-empty", tw.table([]))
    sliced = [(b"", tw.header_proto()),
              (tw.slice_key("part/w", [(0, 2), (0, -1)]), tw.entry_proto(tw.DT_FLOAT, [2, 2], 0, 0, 16, 0)),
              (tw.slice_key("part/w", [(2, 2), (0, -1)]), tw.entry_proto(tw.DT_FLOAT, [2, 2], 0, 16, 16, 0)),
              (b"part/w", tw.entry_proto(tw.DT_FLOAT, [4, 2], 0, 0, 0))]
    put("tftable", "valid-partitioned", tw.table(sorted(sliced, key=lambda e: e[0])))
    put("tftable", "bad-order", tw.table([(b"", tw.header_proto()), (b"b", b""), (b"a", b"")]))


if __name__ == "__main__":
    main()

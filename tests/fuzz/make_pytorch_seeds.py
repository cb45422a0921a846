#!/usr/bin/python3
"""Write the seed corpora of fuzz_zip and fuzz_pickle.

    tests/fuzz/make_pytorch_seeds.py

Rewrites tests/fuzz/corpus/{zip,pickle}/ from scratch: the PyTorch fixtures
of tests/data/pytorch-samples (written by torch 1.13; the 98 KB
pytorch_model.bin is left out, its shards are in), their pickles (data.pkl,
constants.pkl, each pickle of the legacy stream), and small files written
with tests/lib/pytorch_writer.py (a deflated data.pkl, a zip without zip64
or data descriptors, protocol 4 opcodes, _rebuild_tensor_v3 with a dtype,
_rebuild_parameter). Standard library only; deterministic.
"""

import io
import pickletools
import shutil
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
SAMPLES = HERE.parent / "data" / "pytorch-samples"

sys.path.insert(0, str(HERE.parent / "lib"))

from pytorch_writer import Pickle, state_dict_pickle, tensor_ops, zip_archive  # noqa: E402

F32_24 = bytes(range(24))


def one_tensor():
    return state_dict_pickle([("w", "0", "F32", 6, 0, [2, 3], [3, 1])])


def v3_and_parameter():
    p = Pickle().op(b"}(").str("w8")
    p.glob("torch._utils", "_rebuild_tensor_v3").mark()
    p.mark().str("storage").glob("torch", "UntypedStorage").str("0").str("cpu").int(24).op(b"tQ")
    p.int(0).tuple_of([4, 6]).tuple_of([6, 1]).op(b"\x89").glob("collections", "OrderedDict").op(b")R")
    p.glob("torch", "float8_e4m3fn").op(b"tR")
    p.str("param").glob("torch._utils", "_rebuild_parameter").mark()
    tensor_ops(p, "0", "U8", 24, 0, [24], [1])
    p.op(b"\x88").glob("collections", "OrderedDict").op(b")R").op(b"tR")
    return p.op(b"u").stop()


def protocol4():
    """FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE, BINGET, EMPTY_LIST/APPENDS, BINFLOAT, LONG1."""
    body = (b"\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94(\x8c\x05epoch\x94K\x0a"
            b"\x8c\x04loss\x94G?\xe0\x00\x00\x00\x00\x00\x00\x8c\x04list\x94](K\x01K\x02e\x8c\x03big\x94"
            b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01h\x01\x88u.")
    return b"\x80\x04\x95" + len(body).to_bytes(8, "little") + body


def main():
    for target in ("zip", "pickle"):
        shutil.rmtree(CORPUS / target, ignore_errors=True)
        (CORPUS / target).mkdir(parents=True)
    files = ["checkpoint.pt", "views.pt", "dtypes.pt", "legacy_format.pt", "torchscript.pt",
             "pytorch_model-00001-of-00003.bin"]
    for name in files:
        shutil.copy(SAMPLES / name, CORPUS / "zip" / name)
        data = (SAMPLES / name).read_bytes()
        if data[:2] == b"PK":
            z = zipfile.ZipFile(io.BytesIO(data))
            for info in z.infolist():
                if info.filename.endswith(".pkl") and "code/" not in info.filename:
                    leaf = info.filename.split("/")[-1]
                    (CORPUS / "pickle" / f"{Path(name).stem}-{leaf}").write_bytes(z.read(info))
        else:
            # The legacy stream: five pickles, each ending at its STOP.
            at = 0
            for i in range(5):
                end = at + [pos for _, _, pos in pickletools.genops(data[at:])][-1] + 1
                (CORPUS / "pickle" / f"legacy-{i}").write_bytes(data[at:end])
                at = end
    seeds = {
        "writer-stored": zip_archive([("a/data.pkl", one_tensor()), ("a/data/0", F32_24), ("a/version", b"3\n")])[0],
        "writer-deflated-pkl": zip_archive([("a/data.pkl", one_tensor(), 8), ("a/data/0", F32_24)])[0],
        "writer-plain-zip": zip_archive([("a/data.pkl", one_tensor()), ("a/data/0", F32_24)],
                                        align=0, zip64=False, descriptor=False)[0],
        "writer-byteorder": zip_archive([("a/data.pkl", one_tensor()), ("a/byteorder", b"little"),
                                         ("a/data/0", F32_24)])[0],
        "writer-v3": zip_archive([("a/data.pkl", v3_and_parameter()), ("a/data/0", F32_24)])[0],
    }
    for name, data in seeds.items():
        (CORPUS / "zip" / name).write_bytes(data)
    (CORPUS / "pickle" / "writer-v3-parameter").write_bytes(v3_and_parameter())
    (CORPUS / "pickle" / "writer-protocol4").write_bytes(protocol4())
    (CORPUS / "pickle" / "writer-one-tensor").write_bytes(one_tensor())


if __name__ == "__main__":
    main()

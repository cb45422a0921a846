"""ONNX ModelProto bytes, written with protobuf_writer (field numbers of
onnx.proto): models for tests and benchmarks, valid or deliberately not."""

from protobuf_writer import ld, packed_varints, uint, varint

FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL, FLOAT16, DOUBLE = range(1, 12)
UINT32, UINT64, COMPLEX64, COMPLEX128, BFLOAT16 = range(12, 17)


def tensor(name, data_type, dims, raw=None, field=None, values=None, external=None, extra=b""):
    """A TensorProto. raw: raw_data bytes; field/values: a typed field
    (4 float_data, 10 double_data: bytes; 5, 7, 11: ints as varints);
    external: dict of external_data entries (sets data_location EXTERNAL)."""
    out = b"".join(uint(1, d) for d in dims) + uint(2, data_type) + ld(8, name)
    if raw is not None:
        out += ld(9, raw)
    if field is not None:
        out += ld(field, values) if isinstance(values, (bytes, bytearray)) else packed_varints(field, values)
    if external is not None:
        for k, v in external.items():
            out += ld(13, ld(1, k) + ld(2, str(v)))
        out += uint(14, 1)
    return out + extra


def graph(initializers=(), nodes=(), sparse=(), name="g"):
    return (b"".join(ld(1, n) for n in nodes) + ld(2, name) +
            b"".join(ld(5, t) for t in initializers) +
            b"".join(ld(15, s) for s in sparse))


def node_with_subgraph(g, op="If", attr="then_branch", name="if_node"):
    """A NodeProto whose attribute holds graph g (AttributeProto.g)."""
    return ld(3, name) + ld(4, op) + ld(5, ld(1, attr) + ld(6, g) + uint(20, 5))


def sparse(values, indices, dims):
    return ld(1, values) + ld(2, indices) + b"".join(uint(3, d) for d in dims)


def model(g, ir_version=8, opsets=(("", 13),), producer="weightfs-tests", metadata=()):
    out = uint(1, ir_version) + ld(2, producer) + ld(3, "1.0")
    out += ld(7, g)
    for domain, version in opsets:
        out += ld(8, ld(1, domain) + uint(2, version))
    for k, v in metadata:
        out += ld(14, ld(1, k) + ld(2, v))
    return out


def nested_subgraphs(depth):
    """A graph whose If node's branch holds an If node ... depth deep."""
    g = ld(2, "leaf")
    for _ in range(depth):
        g = ld(1, node_with_subgraph(g))
    return g


__all__ = ["tensor", "graph", "node_with_subgraph", "sparse", "model", "nested_subgraphs", "varint"]

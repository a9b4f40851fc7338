"""Rules of encoding on PyTorch's MPS stream that a compiler does not check, read from clang's
JSON AST of one Metal host file (tools/check-metal runs it; clang -Xclang -ast-dump=json
-Xclang -ast-dump-filter=metalsvd, so only the project's declarations are dumped).

  1. MPSStream::commandEncoder(), commandBuffer() and endKernelCoalescing() are called only in a
     block passed to dispatch_sync (on the stream's queue): the encoder and the command buffer
     belong to the stream, which ends and replaces them from its queue.
  2. Nothing in this code ends, commits or waits for what the stream owns (endEncoding, commit,
     waitUntilCompleted, MPSStream::synchronize / commit / flush ...): the stream ends its encoder
     and commits; an SVD call never waits for the GPU.
  3. A block that runs on the stream's queue (passed to dispatch_sync, encode_compute or
     encode_commands) calls only Objective-C methods (Metal), blocks, the three MPSStream calls
     above, the project's own functions, std members and MTLSizeMake: an ATen / c10 / torch call
     there may take the queue again and deadlock, or throw across libdispatch.
These are lexical: a function called from such a block is checked where it is written, not
through the call.

Usage: host_rules.py AST_JSON. Prints "file:line: error: ... [check-metal]" per finding; exits 1
if there is any.
"""

import json
import re
import sys

STREAM_ENCODING = {"commandEncoder", "commandBuffer", "endKernelCoalescing"}
STREAM_FORBIDDEN = {"synchronize", "commit", "commitAndWait", "commitAndContinue", "flush",
                    "executeMPSGraph", "fill", "copy", "copy_and_sync"}
SELECTORS_FORBIDDEN = {"endEncoding", "commit", "waitUntilCompleted", "waitUntilScheduled"}
QUEUE_FUNCTIONS = {"dispatch_sync", "dispatch_sync_with_rethrow"}
QUEUE_METHODS = {"encode_compute", "encode_commands"}
ALLOWED_FUNCTIONS = {"MTLSizeMake"}
FRAMEWORK_TYPE = re.compile(r"\b(at|c10|torch|caffe2)::")
FUNCTION_KINDS = {"FunctionDecl", "CXXMethodDecl", "CXXConstructorDecl", "CXXConversionDecl"}


def load(path):
    text, values, decoder, at = open(path).read(), [], json.JSONDecoder(), 0
    while True:
        while at < len(text) and text[at] not in "{[":
            at += 1
        if at >= len(text):
            return values
        value, at = decoder.raw_decode(text, at)
        values.append(value)


last = {"file": "?", "line": 0}


def resolve_locations(x):
    """clang writes a location's file and line only when they change: resolve in order."""
    if isinstance(x, dict):
        if "offset" in x:
            last["file"] = x.get("file", last["file"])
            last["line"] = x.get("line", last["line"])
            x["_at"] = "%s:%s" % (last["file"], last["line"])
        for v in list(x.values()):
            resolve_locations(v)
    elif isinstance(x, list):
        for v in x:
            resolve_locations(v)


def where(node):
    r = node.get("range", {}).get("begin", {})
    loc = r.get("expansionLoc", r)
    return loc.get("_at") or node.get("loc", {}).get("_at", "?")


def children(node):
    return [c for c in node.get("inner", []) if isinstance(c, dict)]


def descendants(node):
    for c in children(node):
        yield c
        yield from descendants(c)


def type_of(node):
    t = node.get("type") or {}
    return t.get("qualType", "") + " " + t.get("desugaredQualType", "")


def callee_name(call):
    for n in descendants(call):
        if n.get("kind") == "DeclRefExpr":
            return n.get("referencedDecl", {}).get("name", "")
        if n.get("kind") == "MemberExpr":
            return n.get("name", "")
    return ""


def member(call):
    """(method name, object type) of a C++ member call, or (None, None)."""
    inner = children(call)
    if not inner or inner[0].get("kind") != "MemberExpr":
        return None, None
    object_types = [type_of(c) for c in children(inner[0])]
    return inner[0].get("name", ""), " ".join(object_types)


findings = []


def error(node, message):
    line = "%s: error: %s [check-metal]" % (where(node), message)
    if line not in findings:
        findings.append(line)


def queue_block_arguments(call):
    """The block literals of `call` that run on the stream's queue."""
    kind = call.get("kind")
    runs_on_queue = (kind == "CallExpr" and callee_name(call) in QUEUE_FUNCTIONS) or (
        kind == "CXXMemberCallExpr" and member(call)[0] in QUEUE_METHODS)
    if not runs_on_queue:
        return []
    return [n for a in children(call)[1:] for n in [a] + list(descendants(a))
            if n.get("kind") == "BlockExpr"]


def check_queue_block(block, own_functions):
    for n in descendants(block):
        kind = n.get("kind")
        if kind == "CXXMemberCallExpr":
            name, object_type = member(n)
            if "MPSStream" in object_type and name in STREAM_ENCODING:
                continue
            if FRAMEWORK_TYPE.search(object_type or ""):
                error(n, "'%s' on %s inside a block on the MPS stream's queue: no ATen / c10 / "
                      "torch calls there (they may take the queue again: pytorch#163721)"
                      % (name, object_type.strip()))
        elif kind == "CallExpr":
            refs = [d for d in descendants(n) if d.get("kind") == "DeclRefExpr"][:1]
            ref = refs[0].get("referencedDecl", {}) if refs else {}
            if ref.get("kind") in ("ParmVarDecl", "VarDecl") and "^" in ref.get("type", {}).get(
                    "qualType", ""):
                continue  # a block
            if ref.get("id") in own_functions or ref.get("name") in ALLOWED_FUNCTIONS:
                continue
            error(n, "call to '%s' inside a block on the MPS stream's queue: only Metal, blocks, "
                  "the stream's encoder calls and this project's functions run there"
                  % ref.get("name", "?"))
        elif kind in ("CXXConstructExpr", "CXXTemporaryObjectExpr") and FRAMEWORK_TYPE.search(
                type_of(n)):
            error(n, "constructs %s inside a block on the MPS stream's queue" % type_of(n).strip())


def walk(node, queue_depth, own_functions):
    kind = node.get("kind")
    if kind == "CXXMemberCallExpr":
        name, object_type = member(node)
        if "MPSStream" in (object_type or ""):
            if name in STREAM_ENCODING and queue_depth == 0:
                error(node, "MPSStream::%s() outside a block passed to dispatch_sync on the "
                      "stream's queue: the stream ends and replaces its encoder and command "
                      "buffer from that queue" % name)
            if name in STREAM_FORBIDDEN:
                error(node, "MPSStream::%s(): the stream commits, and an SVD call never waits "
                      "for the GPU" % name)
    if kind == "ObjCMessageExpr" and node.get("selector") in SELECTORS_FORBIDDEN:
        error(node, "-%s: the MPS stream ends its encoder and commits its command buffer; an SVD "
              "call never waits for the GPU" % node["selector"])
    queue_blocks = queue_block_arguments(node)
    for block in queue_blocks:
        check_queue_block(block, own_functions)
    on_queue = kind == "CallExpr" and callee_name(node) in QUEUE_FUNCTIONS
    for c in children(node):
        walk(c, queue_depth + (1 if on_queue and c is not children(node)[0] else 0),
             own_functions)


def main():
    roots = load(sys.argv[1])
    resolve_locations(roots)
    own = {n["id"] for r in roots for n in [r] + list(descendants(r))
           if n.get("kind") in FUNCTION_KINDS and "id" in n}
    for r in roots:
        walk(r, 0, own)
    for line in findings:
        print(line)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

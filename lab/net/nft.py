"""nftables inside a lab namespace, through libnftables (the library behind `nft -f -`).

Running the library in-process after entering the namespace saves a fork+exec per router.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import threading
from typing import Any

from lab.errors import LabError
from lab.net import netns

_lib: ctypes.CDLL | None = None
_lock = threading.Lock()


def _library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("nftables") or "libnftables.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as error:
            raise LabError(f"libnftables not found ({error}); install the nftables package") from None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        _lib = lib
    return _lib


class NftError(LabError):
    pass


NFT_CTX_OUTPUT_JSON = 1 << 4


def run(namespace: str, script: str, *, json_output: bool = False) -> str:
    """Run an nft script atomically inside `namespace`; returns nft's output."""
    lib = _library()
    with _lock, netns.entered(namespace):
        ctx = lib.nft_ctx_new(0)
        try:
            lib.nft_ctx_buffer_output(ctx)
            lib.nft_ctx_buffer_error(ctx)
            if json_output:
                lib.nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON)
            rc = lib.nft_run_cmd_from_buffer(ctx, script.encode())
            output = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
            errors = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode()
        finally:
            lib.nft_ctx_free(ctx)
    if rc != 0:
        raise NftError(f"nft in {namespace} failed: {errors.strip()}")
    return output


def list_json(namespace: str, what: str) -> list[dict[str, Any]]:
    out = run(namespace, f"list {what}", json_output=True)
    return json.loads(out).get("nftables", []) if out.strip() else []

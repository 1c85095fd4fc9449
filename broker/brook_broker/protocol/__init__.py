"""Thin glue over `kio`: request/response codec, error codes, the record-batch header view.

This is the bottom layer of the broker. It does no I/O and has no asyncio: every function
takes bytes and returns bytes or plain values, so it can be tested and fuzzed on its own.
"""

"""The end-to-end half of the `sdk` bench: the official Python SDK client (PyPI `mcp`)
calling `query` on each server named on the command line, in alternating rounds, with
the time the client spends validating `structuredContent` against the tool's
`outputSchema` measured apart. Started by benches/sdk.rs, which prepares the table and
passes the servers; prints one JSON line per (server, case) for it to report.

    sdk_client.py ITERATIONS ROUNDS NAME=COMMAND [ARG ...] [-- NAME=COMMAND ...]
"""

import json
import os
import statistics
import sys
import time
from contextlib import AsyncExitStack

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

# The SQL comes from benches/common (MCP_BENCH_*); the point select runs 20x as often.
CASES = [
    ("point select", os.environ["MCP_BENCH_POINT"], 20),
    ("10,000 rows", os.environ["MCP_BENCH_MANY"], 1),
]


def servers(argv):
    out, current = [], None
    for arg in argv:
        if arg == "--":
            current = None
        elif current is None:
            name, command = arg.split("=", 1)
            current = (name, command, [])
            out.append(current)
        else:
            current[2].append(arg)
    return out


async def main():
    iterations, rounds = int(sys.argv[1]), int(sys.argv[2])
    async with AsyncExitStack() as stack:
        sessions = []
        for name, command, args in servers(sys.argv[3:]):
            params = StdioServerParameters(command=command, args=args, env={"MCP_LOG_LEVEL": "warn"})
            read, write = await stack.enter_async_context(stdio_client(params))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            await session.list_tools()
            validating = {"spent": 0.0}
            validate = session.validate_tool_result

            async def timed(tool, result, validate=validate, validating=validating):
                started = time.perf_counter()
                await validate(tool, result)
                validating["spent"] += time.perf_counter() - started

            session.validate_tool_result = timed
            sessions.append((name, session, validating))

        for case, sql, scale in CASES:
            n = iterations * scale
            medians = {name: [] for name, _, _ in sessions}
            validation = {name: [] for name, _, _ in sessions}
            for _, session, _ in sessions:
                for _ in range(max(2, n // 10)):
                    await call(session, sql)
            for _ in range(rounds):
                for name, session, validating in sessions:
                    samples = []
                    validating["spent"] = 0.0
                    for _ in range(n):
                        started = time.perf_counter()
                        await call(session, sql)
                        samples.append(time.perf_counter() - started)
                    medians[name].append(statistics.median(samples))
                    validation[name].append(validating["spent"] / n)
            for name, _, _ in sessions:
                print(
                    json.dumps(
                        {
                            "server": name,
                            "case": case,
                            "median_us": statistics.median(medians[name]) * 1e6,
                            "validation_us": statistics.median(validation[name]) * 1e6,
                        }
                    ),
                    flush=True,
                )


async def call(session, sql):
    result = await session.call_tool("query", {"sql": sql})
    if result.is_error:
        raise SystemExit(f"query failed: {result.content}")


anyio.run(main)

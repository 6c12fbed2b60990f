"""One emulated Lambda execution environment: run as a script, standard library only.

``python -I -S runtime.py TASK_DIR RUNTIME_DIR HANDLER``: the import path is the
unpacked zip (Lambda's ``/var/task``) and a folder holding only the boto3 the
Lambda runtime provides; ``-I -S`` keep every site-packages and PYTHON*
variable out, so a module the zip lacks fails here as it would on Lambda.

It reads one invocation per line on stdin (``{"event", "request_id",
"deadline_ms", "function_name", "memory_mb"}``) and writes one reply per line
on the original stdout; the handler's own prints and logs go to stderr, as
Lambda sends them to CloudWatch Logs. The handler is imported on the first
invocation (the cold start), and ``init_s`` reports how long that took.
"""

import importlib
import json
import logging
import os
import sys
import time
import traceback


class Context:
    """The fields and method of Lambda's Python context object that handlers use."""

    def __init__(self, request: dict):
        self.aws_request_id = request["request_id"]
        self.function_name = request["function_name"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = str(request["memory_mb"])
        self.invoked_function_arn = request.get("function_arn", "")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline_ms = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _load(handler: str):
    module, _, name = handler.rpartition(".")
    return getattr(importlib.import_module(module), name)


def main() -> None:
    task_dir, runtime_dir, handler = sys.argv[1:4]
    sys.path[:0] = [task_dir, runtime_dir]
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # print() in the handler must not corrupt the reply stream
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="[%(levelname)s] %(asctime)s %(name)s: %(message)s"
    )
    function = None
    for line in sys.stdin:
        request = json.loads(line)
        reply = {"request_id": request["request_id"], "init_s": None}
        try:
            if function is None:
                began = time.perf_counter()
                function = _load(handler)
                reply["init_s"] = round(time.perf_counter() - began, 3)
            began = time.perf_counter()
            reply["result"] = function(request["event"], Context(request))
            reply["ok"] = True
        except Exception as err:  # Lambda reports a function error, and the environment lives on
            reply.update(
                ok=False,
                errorType=type(err).__name__,
                errorMessage=str(err),
                stackTrace=traceback.format_exc().splitlines(),
            )
        reply["duration_s"] = round(time.perf_counter() - began, 3)
        replies.write(json.dumps(reply, default=str) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()

"""Sends one plain HTTP GET (no Upgrade) with urllib and prints the response
as a JSON `response` event: status, headers and body."""

import json
import sys
import urllib.error
import urllib.request

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(sys.argv[1], timeout=20) as response:
        status, headers, body = response.status, response.headers, response.read()
except urllib.error.HTTPError as error:
    status, headers, body = error.code, error.headers, error.read()
event = {"ev": "response", "status": status, "headers": [[k, v] for k, v in headers.items()]}
event["body"] = body.decode(errors="replace")
print(json.dumps(event), flush=True)

"""Code that runs *inside* the sandbox container, on the image's Python (stdlib only).

`supervisor.py` is the container's main process (under docker-init); `kernel.py` is its child that
runs user code; `protocol.py` is the frame format shared with the host side. The host imports only
`protocol`; the other two are copied into the image and never imported by the server.
"""

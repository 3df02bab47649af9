# Sourced by scripts/serve, scripts/test and scripts/check: make_venv DIR makes a virtualenv, first installing
# Debian's python3-venv when Python lacks ensurepip (a bare Debian python3) and we are root.
make_venv() {
    if ! python3 -c "import ensurepip" >/dev/null 2>&1 && [ "$(id -u)" = 0 ] &&
        command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    [ -x "$1/bin/python" ] || python3 -m venv "$1"
}

# install_dev: .venv with the server and its test tools (pinned by requirements.lock).
install_dev() {
    make_venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
}

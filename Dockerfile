# assistantd server image (online build: needs a registry for the base image and PyPI).
#   docker build -t assistantd .
#   docker run -p 8000:8000 -e ASSISTANTD_API_KEYS=sk-mykey assistantd
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ASSISTANTD_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
COPY migrations ./migrations
RUN pip install -c requirements.lock . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin assistantd \
    && mkdir -p /data && chown assistantd /data

USER assistantd
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# 0.0.0.0 inside the container; set ASSISTANTD_API_KEYS (or use `assistantd keys create`).
CMD ["assistantd", "serve", "--host", "0.0.0.0", "--port", "8000"]

# Multi-stage build: compile wheels (implicit, LightFM need a C compiler) in a builder,
# ship a slim runtime that runs as a non-root user.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api api
COPY contracts contracts
COPY experiments experiments
COPY jobs jobs
COPY recsys recsys
COPY segments segments
COPY store store
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 touchpoint
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER touchpoint
WORKDIR /home/touchpoint
COPY --chown=touchpoint rules rules
ENV OPENBLAS_NUM_THREADS=1 \
    TOUCHPOINT_DATA_DIR=/home/touchpoint/data \
    TOUCHPOINT_BUSINESS_RULES_DIR=/home/touchpoint/rules \
    TOUCHPOINT_HOST=0.0.0.0 \
    TOUCHPOINT_PORT=8000
# TOUCHPOINT_REDIS_URL points at your Redis; unset, an embedded redis-server is started.
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz')" || exit 1
CMD ["touchpoint", "serve"]

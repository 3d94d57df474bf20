# stickylb image. Build: `docker build -t stickylb:0.1.0 .` (docs/kubernetes.md). Runs as the
# unprivileged `node` user (uid 1000) of the node image. The runtime stage holds what `npm pack`
# ships (package.json "files": dist/src, docs, examples, README.md) with the production
# dependencies of the lock file; a test keeps the two lists in step.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build && node dist/src/main.js --version

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
# Ports 80 and 443 as uid 1000: the file capability cap_net_bind_service on the node binary (as
# ingress-nginx gives its binaries). It takes effect when the container's capability set holds
# NET_BIND_SERVICE (capabilities.add in deploy/kubernetes/deployment.yaml); the entry point must
# be node itself, since a shell or init in front would drop the capability at its own exec.
# nftables: the `nft` command of the kernel plane (deploy/kubernetes/kernel-plane).
RUN apt-get update \
  && apt-get install -y --no-install-recommends libcap2-bin nftables \
  && setcap cap_net_bind_service=+ep /usr/local/bin/node \
  && apt-get purge -y libcap2-bin \
  && apt-get autoremove -y \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY docs ./docs
COPY examples ./examples
COPY README.md ./
RUN mkdir -p /var/lib/stickylb && chown node:node /var/lib/stickylb
USER node
ENV XDG_STATE_HOME=/var/lib
EXPOSE 80 443 9901 10254
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["run", "--kubernetes"]

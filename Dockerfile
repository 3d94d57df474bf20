# stickylb image: `docker build -t stickylb .`; runs as the unprivileged `node` user (uid 1000).
# The runtime stage holds what `npm pack` ships (package.json "files": dist/src, docs, examples,
# README.md) with the production dependencies of the lock file; a test keeps the two lists in step.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY docs ./docs
COPY examples ./examples
COPY README.md ./
RUN mkdir -p /var/lib/stickylb && chown node:node /var/lib/stickylb
USER node
ENV XDG_STATE_HOME=/var/lib
EXPOSE 80 443 9901
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["run", "--kubernetes"]

# FHIR R4 server for the DMP. The server runs from TypeScript sources through tsx, which is a
# runtime dependency in package.json (as are pg, PGlite, express, @medplum/core), so the
# production install (`--omit=dev`) is complete: dev dependencies are only typescript, test and
# bench tools, and @medplum/fhirtypes, whose imports are type-only and erased by tsx.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data

WORKDIR /app

# Dependencies first, so this layer is reused while only sources change.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src
COPY profiles ./profiles
COPY capability ./capability
COPY scripts ./scripts

# Embedded PGlite data when DATABASE_URL is not set; mount a volume here to keep it.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]

# The image's unprivileged "node" user (uid 1000).
USER node

EXPOSE 8080

# npm forwards SIGTERM/SIGINT to the server, which shuts down gracefully.
CMD ["npm", "start"]

#!/usr/bin/env node
// `npm i -g @tfpass/all` links this as `tfpass`: the same command as @tfpass/cli's, with every
// first-party package installed beside it (they are found by their manifests).
import '@tfpass/cli/bin';

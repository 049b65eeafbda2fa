/** The seeded PRNG for reproducible test and verify inputs: core's mulberry32. */
export { mulberry32 as seededRandom } from '@tfpass/core';

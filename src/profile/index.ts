export { loadProfile, parseProfile } from './load.js';
export { ProfileError, ProfileErrors, didYouMean, editDistance, type ProfileErrorCode } from './errors.js';
export { DEFAULTS, SPEC, type LowerLayer, type Profile, type ResetButton, type Spec, type UpperLayer } from './schema.js';

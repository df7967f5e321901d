// Leak response: finding Latchkey tokens in files, standard input and git
// history by their prefix and checksum, without a lookup and without ever
// printing one. The command line asks the admin API which of them are live.
export type { Finding, Location, RawFinding } from './finding.js';
export { TokenFinder } from './finder.js';
export { IgnoreRules } from './gitignore.js';
export { filesUnder } from './walk.js';
export { ContentScanner, scanStream, type StreamResult } from './scan-stream.js';
export { scanGitHistory, GitError, type GitScanResult } from './scan-git.js';
export { leakState, isLive, type LeakState } from './state.js';
export { GithubKeys, GithubKeysError, KEY_ID_HEADER, SIGNATURE_HEADER as GITHUB_SIGNATURE_HEADER } from './github/keys.js';
export { GithubKeySource, type GithubKeyRing, type GithubKeySourceOptions } from './github/key-source.js';
export { githubReport, githubTokenHash, type GithubReport, type GithubLabel } from './github/report.js';

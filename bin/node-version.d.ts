export declare const REQUIRED_NODE: string;
export declare function compareVersions(a: string, b: string): -1 | 0 | 1;
export declare function nodeVersionProblem(version: string): string | null;

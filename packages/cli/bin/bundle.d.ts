/** Types of bundle.js, which stays plain JavaScript so that `node` runs it before anything is built. */
export declare const DIST_DIR: string;
export declare function bundleKey(): string;
export declare function currentBundle(): string | undefined;
export declare function buildBundle(options?: { log?: (line: string) => void }): Promise<string>;

// What the client's parts share: the output channel and the running language client. It lives
// apart from extension.ts so that commands, episodes and status depend on this type and not on
// the module that creates them (extension.ts imports them all).

import type * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';

export interface Kenetic {
    readonly output: vscode.LogOutputChannel;
    client: LanguageClient | undefined;
    /** The running client, started if need be; undefined (and the user told why) if it can't start. */
    ready(): Promise<LanguageClient | undefined>;
    restart(): Promise<void>;
}

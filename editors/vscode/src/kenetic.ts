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

/** The next edit marked in the editor (what the user sees), for the palette and the tests. */
export interface MarkedEdit {
    uri: string;
    line: number;
    newText: string;
    oldText: string;
    /** the new text as shown after the struck-through old text */
    preview: string;
    skillId?: string;
    suggestionId?: string;
    /** the site is in another file than the one asked about: shown as a hint with its name */
    otherFile: boolean;
    /** Date.now() when it was marked, and of the document change that led to it */
    markedAt: number;
    changedAt: number;
}

/** What activate() returns to other extensions and the tests, besides Kenetic itself. */
export interface KeneticApi extends Kenetic {
    nextEdit(): MarkedEdit | undefined;
    statusText(): string;
}

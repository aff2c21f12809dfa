// Calling the server's kenetic.* commands from client code that is not a palette command: the
// running client or nothing, a missing command or a failure logged and shown once.

import * as vscode from 'vscode';
import { ResponseError } from 'vscode-languageclient/node';
import type { Kenetic } from './kenetic';

export function describeError(err: unknown): string {
    if (err instanceof ResponseError || err instanceof Error) {
        return err.message;
    }
    return String(err);
}

/** workspace/executeCommand `command` with `args`; undefined when the server lacks it or fails. */
export async function callServer<R>(kenetic: Kenetic, command: string, args: unknown[] = [], quiet = false): Promise<R | undefined> {
    const client = await kenetic.ready();
    if (!client) {
        return undefined;
    }
    const offered = client.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
    if (!offered.includes(command)) {
        if (!quiet) {
            void vscode.window.showWarningMessage(`Kenetic: this server does not offer ${command} yet.`);
        }
        return undefined;
    }
    try {
        return await client.sendRequest<R>('workspace/executeCommand', args.length ? { command, arguments: args } : { command });
    } catch (err) {
        if (!quiet) {
            void vscode.window.showErrorMessage(`Kenetic: ${command} failed: ${describeError(err)}`);
        }
        kenetic.output.warn(`${command}: ${describeError(err)}`);
        return undefined;
    }
}

/** "Applied N places" / "Nothing to apply" from kenetic.applySkill's answer. */
export function appliedMessage(answer: unknown): string {
    const applied = typeof answer === 'object' && answer ? (answer as { applied?: unknown }).applied : undefined;
    const n = typeof applied === 'number' ? applied : 0;
    return n > 0 ? `Kenetic: Applied ${n} place${n === 1 ? '' : 's'}.` : 'Kenetic: Nothing to apply.';
}

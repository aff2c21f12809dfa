// The kenetic client for VS Code: starts `kenetic serve`, passes settings, shows a status bar item,
// forwards terminal and task exits as command episodes, and puts the server's queries behind palette
// commands. Everything else — code actions, inline completions, applying skills, recording
// outcomes — is standard LSP that vscode-languageclient already speaks.

import * as vscode from 'vscode';
import {
    LanguageClient,
    LanguageClientOptions,
    ServerOptions,
    State,
    TransportKind,
} from 'vscode-languageclient/node';
import { registerCommands } from './commands';
import { registerControls } from './controls';
import { forwardCommandExits } from './episodes';
import type { Kenetic, KeneticApi } from './kenetic';
import { LANGUAGES, NextEdits } from './nextEdit';
import { StatusItem } from './status';

export const SECTION = 'kenetic';
// settings only the client reads: never sent to the server
const CLIENT_ONLY = ['server.', 'statusBar.', 'trace.', 'editor.'];

let state: KeneticState | undefined;

class KeneticState implements Kenetic {
    client: LanguageClient | undefined;
    private starting: Promise<LanguageClient | undefined> | undefined;

    constructor(
        readonly context: vscode.ExtensionContext,
        readonly output: vscode.LogOutputChannel,
    ) {}

    async ready(): Promise<LanguageClient | undefined> {
        if (this.client?.state === State.Running) {
            return this.client;
        }
        if (!this.starting) {
            this.starting = this.start().finally(() => (this.starting = undefined));
        }
        return this.starting;
    }

    private async start(): Promise<LanguageClient | undefined> {
        const config = vscode.workspace.getConfiguration(SECTION);
        const command = config.get<string>('server.command') || 'kenetic';
        const args = config.get<string[]>('server.args') ?? ['serve'];
        const env = { ...process.env, ...config.get<Record<string, string>>('server.env', {}) };
        const serverOptions: ServerOptions = {
            command,
            args,
            transport: TransportKind.stdio,
            options: { env },
        };
        const clientOptions: LanguageClientOptions = {
            // only the languages kenetic has grammars for: other files never reach the server
            documentSelector: LANGUAGES.map((language) => ({ scheme: 'file', language })),
            outputChannel: this.output,
            traceOutputChannel: this.output,
            initializationOptions: userSettings(this.context),
            middleware: {
                // vscode-languageclient 9.0.1 sends VS Code's trigger kind (Invoke 0, Automatic 1)
                // where LSP wants Invoked 1, Automatic 2, and the selected completion's range as
                // a VS Code Range: hand it a context that converts to the LSP one
                provideInlineCompletionItems: (document, position, context, token, next) => {
                    const lspContext = {
                        triggerKind: context.triggerKind + 1,
                        selectedCompletionInfo: context.selectedCompletionInfo && {
                            range: client.code2ProtocolConverter.asRange(context.selectedCompletionInfo.range),
                            text: context.selectedCompletionInfo.text,
                        },
                    } as unknown as vscode.InlineCompletionContext;
                    return next(document, position, lspContext, token);
                },
            },
            // a server that died is restarted by the client (up to 4 times in 3 minutes)
        };
        const client = new LanguageClient('kenetic', 'Kenetic', serverOptions, clientOptions);
        // inline completions are a "proposed" feature in vscode-languageclient 9: opt in
        client.registerProposedFeatures();
        this.output.info(`starting ${command} ${args.join(' ')}`);
        try {
            await client.start();
        } catch (err) {
            const why = err instanceof Error ? err.message : String(err);
            this.output.error(`could not start the kenetic server: ${why}`);
            const open = 'Open Settings';
            void vscode.window
                .showErrorMessage(
                    `Kenetic: could not start \`${command}\` (${why}). Install kenetic (pip install kenetic) or set kenetic.server.command${vscode.env.remoteName ? ' (under the Remote tab of the Settings editor: it runs where this window\'s files are)' : ''}.`,
                    open,
                )
                .then((pick) => {
                    if (pick === open) {
                        void vscode.commands.executeCommand('workbench.action.openSettings', 'kenetic.server');
                    }
                });
            await client.dispose().catch(() => undefined);
            return undefined;
        }
        this.client = client;
        return client;
    }

    async restart(): Promise<void> {
        const old = this.client;
        this.client = undefined;
        if (old) {
            await old.stop(5000).catch((err) => this.output.warn(`stopping the server: ${err}`));
        }
        await this.ready();
    }

    async dispose(): Promise<void> {
        const old = this.client;
        this.client = undefined;
        if (old) {
            await old.stop(5000).catch(() => undefined);
        }
    }
}

/**
 * The kenetic.* settings the user actually set (any scope), as nested JSON. Defaults are left out
 * on purpose: the server has its own defaults and config.toml layers, which a client-side default
 * must not override.
 */
export function userSettings(context: vscode.ExtensionContext): Record<string, unknown> {
    const properties: Record<string, { scope?: string } | undefined> =
        context.extension.packageJSON?.contributes?.configuration?.properties ?? {};
    const config = vscode.workspace.getConfiguration(SECTION);
    const out: Record<string, unknown> = {};
    for (const [full, schema] of Object.entries(properties)) {
        const key = full.slice(SECTION.length + 1);
        if (CLIENT_ONLY.some((prefix) => key.startsWith(prefix))) {
            continue;
        }
        const seen = config.inspect(key);
        // a machine or application setting (kenetic.team.*: where the developer's skills go) is
        // taken from the user's own settings only: a repository's .vscode/settings.json is
        // written by whoever wrote the repository
        const userOnly = schema?.scope === 'machine' || schema?.scope === 'application';
        const value = userOnly
            ? seen?.globalValue
            : (seen?.workspaceFolderValue ?? seen?.workspaceValue ?? seen?.globalValue);
        if (value === undefined) {
            continue;
        }
        const parts = key.split('.');
        let node = out;
        for (const part of parts.slice(0, -1)) {
            node = (node[part] ??= {}) as Record<string, unknown>;
        }
        node[parts[parts.length - 1]] = value;
    }
    return out;
}

export async function activate(context: vscode.ExtensionContext): Promise<KeneticApi> {
    const output = vscode.window.createOutputChannel('Kenetic', { log: true });
    const kenetic = new KeneticState(context, output);
    state = kenetic;
    context.subscriptions.push(output);

    const status = new StatusItem(kenetic);
    context.subscriptions.push(status);
    registerCommands(context, kenetic);
    forwardCommandExits(context, kenetic);
    const nextEdits = new NextEdits(kenetic, context);
    context.subscriptions.push(nextEdits);
    registerControls(context, kenetic, nextEdits);

    context.subscriptions.push(
        vscode.workspace.onDidChangeConfiguration(async (event) => {
            if (!event.affectsConfiguration(SECTION)) {
                return;
            }
            if (event.affectsConfiguration(`${SECTION}.server`)) {
                output.info('server settings changed: restarting');
                await kenetic.restart();
                return;
            }
            const client = kenetic.client;
            if (client?.state === State.Running) {
                await client.sendNotification('workspace/didChangeConfiguration', {
                    settings: { [SECTION]: userSettings(context) },
                });
            }
            status.restart();
        }),
    );

    await kenetic.ready();
    status.restart();
    return Object.assign(kenetic, { nextEdit: () => nextEdits.current(), statusText: () => status.text() });
}

export async function deactivate(): Promise<void> {
    await state?.dispose();
    state = undefined;
}

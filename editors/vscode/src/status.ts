// The status bar item: what the server says in kenetic/stats, polled every few seconds.

import * as vscode from 'vscode';
import { State } from 'vscode-languageclient/node';
import type { Kenetic } from './kenetic';

export interface Stats {
    episodes?: Record<string, number>;
    skills?: number;
    pending?: number;
    failedWrites?: number;
    writeError?: string | null;
    ranker?: string;
    sessionId?: string;
    store?: { path?: string } | null;
}

export class StatusItem implements vscode.Disposable {
    private readonly item = vscode.window.createStatusBarItem('kenetic.status', vscode.StatusBarAlignment.Right, 100);
    private timer: NodeJS.Timeout | undefined;
    private busy = false;

    constructor(private readonly kenetic: Kenetic) {
        this.item.name = 'Kenetic';
        this.item.command = 'kenetic.client.menu';
        this.item.text = '$(mortar-board) kenetic';
        this.item.tooltip = 'Kenetic: starting';
        this.item.show();
    }

    restart(): void {
        if (this.timer) {
            clearInterval(this.timer);
            this.timer = undefined;
        }
        const seconds = vscode.workspace.getConfiguration('kenetic').get<number>('statusBar.pollSeconds', 3);
        void this.refresh();
        if (seconds > 0) {
            this.timer = setInterval(() => void this.refresh(), seconds * 1000);
        }
    }

    async refresh(): Promise<void> {
        const client = this.kenetic.client;
        if (!client || client.state !== State.Running) {
            this.item.text = '$(circle-slash) kenetic';
            this.item.tooltip = 'Kenetic: the server is not running (Kenetic: Restart Server)';
            this.item.command = 'kenetic.client.restart';
            return;
        }
        if (this.busy) {
            return;
        }
        this.busy = true;
        try {
            const stats = await client.sendRequest<Stats>('kenetic/stats', {});
            this.show(stats);
        } catch (err) {
            this.item.text = '$(warning) kenetic';
            this.item.tooltip = `Kenetic: kenetic/stats failed: ${err}`;
        } finally {
            this.busy = false;
        }
    }

    show(stats: Stats): void {
        const skills = stats.skills ?? 0;
        const ranker = stats.ranker ?? 'rules';
        this.item.text = skills
            ? `$(mortar-board) ${skills} skill${skills === 1 ? '' : 's'} · ${ranker}`
            : '$(mortar-board) kenetic: learning';
        if (stats.writeError) {
            // the store cannot be written (disk full): its writes are held and retried
            this.item.text = '$(warning) kenetic: not saving';
        }
        const episodes = Object.entries(stats.episodes ?? {})
            .map(([kind, n]) => `${n} ${kind}`)
            .join(', ');
        const tip = new vscode.MarkdownString(
            [
                `**Kenetic** — ${skills ? `${skills} skill${skills === 1 ? '' : 's'}` : 'learning (no skills yet)'}`,
                `- episodes: ${episodes || 'none'}`,
                `- ranker: ${ranker}`,
                stats.pending ? `- pending: ${stats.pending}` : '',
                stats.writeError ? `- **not saving**, writes held and retried: ${stats.writeError}` : '',
                stats.failedWrites ? `- writes lost: ${stats.failedWrites}` : '',
                stats.store?.path ? `- store: \`${stats.store.path}\`` : '',
                '',
                'Click for the Kenetic menu (toggle, skills, output, settings, restart).',
            ]
                .filter((line) => line !== undefined)
                .join('\n'),
        );
        this.item.tooltip = tip;
        this.item.command = 'kenetic.client.menu';
    }

    /** The item's text and tooltip, for the tests. */
    text(): string {
        const tip = this.item.tooltip;
        return `${this.item.text}\n${typeof tip === 'string' ? tip : tip?.value ?? ''}`;
    }

    dispose(): void {
        if (this.timer) {
            clearInterval(this.timer);
        }
        this.item.dispose();
    }
}

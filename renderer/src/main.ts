import { mount } from 'svelte';
import App from './App.svelte';
import MemberApp from './MemberApp.svelte';
import { mode } from './lib/api.ts';
import { registerMemberShell } from './lib/install.ts';
import './app.css';

// The owner's UI, or a member's at /app/ (issue #34: lib/mode.ts).
mount(mode === 'member' ? MemberApp : App, { target: document.getElementById('app')! });
if (mode === 'member') registerMemberShell();

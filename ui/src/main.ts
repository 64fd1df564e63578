import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { followTheme } from './lib/api';

followTheme();

mount(App, { target: document.getElementById('app')! });

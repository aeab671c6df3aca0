import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from '../App.vue';
import { createClient, detectPlatform } from '../api/client';
import { clientKey } from '../composables/useClient';
import './styles.css';

const app = createApp(App);
app.provide(clientKey, createClient(detectPlatform()));
app.use(createPinia());
app.mount('#app');
